//! The pages. Every value that is not a literal of this file goes through [`escape`].

use std::fmt::Write as _;

use crate::{AdminData, LOGIN_PATH, LOGOUT_PATH};

/// HTML-escapes `text` for element content and double-quoted attribute values.
#[must_use]
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{title}</title>\n<style>\
         body{{font-family:sans-serif;margin:2rem}}table{{border-collapse:collapse;margin-bottom:2rem}}\
         th,td{{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}}.error{{color:#b00}}\
         </style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        title = escape(title),
    )
}

/// The login page: a `POST /admin/login` form with `username` and `password`, and `error`
/// (escaped) above it when given.
#[must_use]
pub fn login_page(error: Option<&str>) -> String {
    let mut body = String::from("<h1>Staff login</h1>\n");
    if let Some(error) = error {
        let _ = writeln!(
            body,
            "<p class=\"error\" id=\"error\">{}</p>",
            escape(error)
        );
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"{LOGIN_PATH}\">\n\
         <label>Username <input type=\"text\" name=\"username\" id=\"username\" autocomplete=\"username\" required></label>\n\
         <label>Password <input type=\"password\" name=\"password\" id=\"password\" autocomplete=\"current-password\" required></label>\n\
         <button type=\"submit\" id=\"login\">Log in</button>\n</form>\n"
    );
    page("Staff login", &body)
}

fn cell(value: Option<&str>) -> String {
    match value {
        Some(v) if !v.is_empty() => format!("<td>{}</td>", escape(v)),
        _ => "<td>—</td>".to_owned(),
    }
}

/// The Clerk id, linked to the user's page (its actions) when it is one.
fn clerk_id_cell(clerk_id: Option<&str>) -> String {
    match clerk_id {
        Some(id) if crate::is_clerk_user_id(id) => {
            format!("<td><a href=\"{}\">{id}</a></td>", crate::user_path(id))
        }
        other => cell(other),
    }
}

/// The admin page for staff member `staff` (a username): the users table (email, Clerk id,
/// name, active), the organizations table (name, slug, members) and a logout button.
#[must_use]
pub fn admin_page(staff: &str, data: &AdminData) -> String {
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>Admin</h1>\n<p>Signed in as <strong id=\"staff\">{}</strong></p>\n\
         <form method=\"post\" action=\"{LOGOUT_PATH}\"><button type=\"submit\" id=\"logout\">Log out</button></form>\n",
        escape(staff)
    );
    if data.held_webhooks > 0 {
        let _ = writeln!(
            body,
            "<p id=\"held-webhooks\"><strong>{} webhook deliveries held</strong> for a conflict \
             (a user's email is taken by another account): list them with \
             <code>clerk webhooks failed</code>, then <code>clerk webhooks retry &lt;svix id&gt;</code> \
             once resolved.</p>",
            data.held_webhooks
        );
    }
    let _ = write!(
        body,
        "<h2>Users</h2>\n<table id=\"users\">\n<thead><tr><th>Email</th><th>Clerk id</th><th>Name</th><th>Active</th></tr></thead>\n<tbody>\n"
    );
    for user in &data.users {
        let name: Vec<&str> = [user.first_name.as_deref(), user.last_name.as_deref()]
            .into_iter()
            .flatten()
            .filter(|s| !s.trim().is_empty())
            .collect();
        let name = (!name.is_empty()).then(|| name.join(" "));
        let _ = writeln!(
            body,
            "<tr>{}{}{}<td>{}</td></tr>",
            cell(user.email.as_deref()),
            clerk_id_cell(user.clerk_id.as_deref()),
            cell(name.as_deref().or(user.username.as_deref())),
            if user.is_active { "yes" } else { "no" },
        );
    }
    body.push_str("</tbody>\n</table>\n");
    if data.more_users {
        body.push_str("<p>Only the first users are listed.</p>\n");
    }
    body.push_str(
        "<h2>Organizations</h2>\n<table id=\"organizations\">\n<thead><tr><th>Name</th><th>Slug</th><th>Members</th></tr></thead>\n<tbody>\n",
    );
    for row in &data.organizations {
        let _ = writeln!(
            body,
            "<tr>{}{}<td>{}</td></tr>",
            cell(Some(&row.organization.name)),
            cell(row.organization.slug.as_deref()),
            row.members,
        );
    }
    body.push_str("</tbody>\n</table>\n");
    if data.more_organizations {
        body.push_str("<p>Only the first organizations are listed.</p>\n");
    }
    page("Admin", &body)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::OrganizationRow;
    use clerk_core::model::{ClerkOrganizationData, ClerkUserData, Organization, User, UserId};
    use clerk_core::time::UnixTime;

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>alert("x&y")</script> 'q'"#),
            "&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt; &#39;q&#39;"
        );
        assert_eq!(escape("plain"), "plain");
    }

    #[test]
    fn login_page_has_the_form_and_escapes_the_error() {
        let html = login_page(None);
        for needle in [
            r#"<form method="post" action="/admin/login">"#,
            r#"name="username""#,
            r#"name="password""#,
        ] {
            assert!(html.contains(needle), "{needle}");
        }
        assert!(!html.contains("class=\"error\""));
        let html = login_page(Some("<b>bad</b>"));
        assert!(html.contains("&lt;b&gt;bad&lt;/b&gt;"));
        assert!(!html.contains("<b>bad"));
    }

    #[test]
    fn admin_page_escapes_every_value_and_never_shows_hashes() {
        let t = UnixTime::from_secs(1_700_000_000);
        let mut data = ClerkUserData::new("user_<1>", t, t);
        data.email = Some("evil\"<img src=x>@example.com".to_owned());
        data.first_name = Some("<b>Ada</b>".to_owned());
        data.last_name = Some("& Co".to_owned());
        let mut user = User::from_clerk(UserId(1), &data, t);
        user.password_hash = Some("$argon2id$v=19$secret".to_owned());
        let mut inactive = User::from_clerk(UserId(2), &ClerkUserData::new("user_2", t, t), t);
        inactive.is_active = false;
        let mut org_data = ClerkOrganizationData::new("org_1", "<i>Acme</i>", t, t);
        org_data.slug = Some("acme\"".to_owned());
        let page_data = AdminData {
            users: vec![user, inactive],
            more_users: false,
            organizations: vec![OrganizationRow {
                organization: Organization::from_clerk(&org_data, t),
                members: 3,
            }],
            more_organizations: true,
            held_webhooks: 2,
        };
        let html = admin_page("staff<1>", &page_data);
        for needle in [
            "<td>evil&quot;&lt;img src=x&gt;@example.com</td>",
            "<td>user_&lt;1&gt;</td>",
            "<td>&lt;b&gt;Ada&lt;/b&gt; &amp; Co</td>",
            "<td>yes</td>",
            "<td><a href=\"/admin/users/user_2\">user_2</a></td><td>—</td><td>no</td>",
            "<td>&lt;i&gt;Acme&lt;/i&gt;</td><td>acme&quot;</td><td>3</td>",
            "staff&lt;1&gt;",
            "Only the first organizations are listed.",
            r#"action="/admin/logout""#,
            "2 webhook deliveries held",
        ] {
            assert!(html.contains(needle), "{needle} in {html}");
        }
        for absent in [
            "<img",
            "<b>Ada",
            "<i>Acme",
            "$argon2",
            "Only the first users",
        ] {
            assert!(!html.contains(absent), "{absent}");
        }
    }
}
