//! The command line, as clap parses it.

use clap::{Args, Parser, Subcommand};
use clerk_store::DEFAULT_DATABASE_URL;

/// Exit codes, shown at the end of every `--help`.
const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  runtime failure: a Clerk request or the database failed (the message names which)
  2  usage or configuration error: a bad option, or a missing or invalid setting (named)
  3  refused: the input was understood but not accepted (a weak password, a username or
     email already taken, a Clerk id Clerk does not know, an invitation Clerk refuses)";

/// `clerk`: the local mirror of Clerk users and organizations, from the command line.
#[derive(Debug, Parser)]
#[command(name = "clerk", version, about, after_help = EXIT_CODES, propagate_version = true)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The database every command except `mock` works on.
#[derive(Debug, Clone, Args)]
pub struct Database {
    /// The database: `postgres://…` for PostgreSQL, anything else (`sqlite://file.db?mode=rwc`,
    /// a file name) for SQLite.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, hide_env_values = true)]
    pub database_url: String,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or update the local mirror's tables (idempotent; safe to run from several
    /// processes at once).
    #[command(after_help = EXIT_CODES)]
    Migrate {
        /// Where.
        #[command(flatten)]
        database: Database,
    },
    /// Mirror users or organizations from Clerk's Backend API into the database.
    ///
    /// Reads CLERK_SECRET_KEY, CLERK_API_URL (default https://api.clerk.com) and
    /// CLERK_API_TIMEOUT_MS. Pages are fetched oldest first and each is written in one
    /// transaction under the same ordering rules as webhooks, so re-running changes nothing
    /// and an interrupted sync resumes when run again. Run `clerk migrate` first.
    #[command(after_help = EXIT_CODES)]
    Sync {
        /// What to sync.
        #[command(subcommand)]
        what: SyncTarget,
    },
    /// Create a local staff superuser (for hybrid mode's admin).
    ///
    /// Interactive by default: asks for the username, the email and the password (twice,
    /// hidden). With --no-input the username comes from --username and the password from the
    /// CLERK_SUPERUSER_PASSWORD environment variable or, with --password-stdin, the first line
    /// of standard input. Weak passwords are refused (exit 3), as are taken usernames and
    /// emails.
    #[command(name = "createsuperuser", after_help = EXIT_CODES)]
    CreateSuperuser(CreateSuperuser),
    /// Webhook deliveries held for an operator: acknowledged, but their user could not be
    /// stored as sent (its email is held by another row that may not be linked), so it was
    /// written without that email and the delivery kept.
    #[command(after_help = EXIT_CODES)]
    Webhooks {
        /// What to do.
        #[command(subcommand)]
        what: WebhooksCommand,
    },
    /// Ban, unban, lock or unlock a Clerk user through the Backend API.
    ///
    /// Reads CLERK_SECRET_KEY, CLERK_API_URL (default https://api.clerk.com) and
    /// CLERK_API_TIMEOUT_MS. Clerk sends `user.updated` to your webhook endpoint afterwards,
    /// which updates the local mirror. Retried on 429, 5xx and network failures (these calls
    /// are idempotent).
    #[command(after_help = EXIT_CODES)]
    Users {
        /// What to do.
        #[command(subcommand)]
        what: UsersCommand,
    },
    /// Revoke Clerk sessions through the Backend API (settings as `clerk users`).
    #[command(after_help = EXIT_CODES)]
    Sessions {
        /// What to do.
        #[command(subcommand)]
        what: SessionsCommand,
    },
    /// Invite people to the application through the Backend API (settings as `clerk users`).
    #[command(after_help = EXIT_CODES)]
    Invitations {
        /// What to do.
        #[command(subcommand)]
        what: InvitationsCommand,
    },
    /// Run a mock Clerk (JWKS, Backend API, token minting) on loopback for local development,
    /// until Ctrl-C.
    ///
    /// Prints the CLERK_* settings an application needs to use it. Tokens for any user come
    /// from `POST /__mock/tokens` with JSON {"sub", "sid"?, "azp"?, "org_id"?, "org_slug"?,
    /// "org_role"?, "org_permissions"?, "ttl_seconds"?}, answered with {"token"}.
    #[command(after_help = EXIT_CODES)]
    Mock(Mock),
}

/// `clerk webhooks …`.
#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// List the deliveries still held, oldest first (svix id, event type, reason, Clerk user
    /// id, when), and how many there are.
    #[command(after_help = EXIT_CODES)]
    Failed {
        /// Where.
        #[command(flatten)]
        database: Database,
        /// At most this many lines.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Apply a held delivery again once its conflict is resolved (for instance the local
    /// account holding the email changed it): the user is written with its email and the
    /// delivery is no longer held, in one transaction. Still conflicting, already resolved or
    /// unknown: nothing changes (exit 3).
    #[command(after_help = EXIT_CODES)]
    Retry {
        /// Where.
        #[command(flatten)]
        database: Database,
        /// The held delivery's svix id (from `clerk webhooks failed`).
        svix_id: String,
    },
}

/// `clerk users …`.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Ban the user (`POST /v1/users/{id}/ban`): Clerk revokes their sessions and refuses
    /// their sign-ins.
    #[command(after_help = EXIT_CODES)]
    Ban {
        /// The Clerk user id (`user_…`).
        user_id: String,
    },
    /// Lift the ban (`POST /v1/users/{id}/unban`).
    #[command(after_help = EXIT_CODES)]
    Unban {
        /// The Clerk user id (`user_…`).
        user_id: String,
    },
    /// Lock the user (`POST /v1/users/{id}/lock`) until unlocked or the lockout expires.
    #[command(after_help = EXIT_CODES)]
    Lock {
        /// The Clerk user id (`user_…`).
        user_id: String,
    },
    /// Unlock the user (`POST /v1/users/{id}/unlock`).
    #[command(after_help = EXIT_CODES)]
    Unlock {
        /// The Clerk user id (`user_…`).
        user_id: String,
    },
}

/// `clerk sessions …`.
#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// Revoke one session (`POST /v1/sessions/{id}/revoke`), or with --user every active
    /// session of a user (listed with `GET /v1/sessions?user_id=…&status=active`), reporting
    /// how many were revoked; any that failed are named on stderr (exit 1).
    #[command(after_help = EXIT_CODES)]
    Revoke {
        /// The Clerk session id (`sess_…`).
        #[arg(required_unless_present = "user", conflicts_with = "user")]
        session_id: Option<String>,
        /// Revoke every active session of this Clerk user (`user_…`) instead.
        #[arg(long, value_name = "USER_ID")]
        user: Option<String>,
    },
}

/// `clerk invitations …`.
#[derive(Debug, Subcommand)]
pub enum InvitationsCommand {
    /// Invite an email address (`POST /v1/invitations`); Clerk emails the invitation unless
    /// --no-notify. Not retried after a timeout or a 5xx (it might have been created: list
    /// the invitations in the dashboard before trying again); retried on 429.
    #[command(after_help = EXIT_CODES)]
    Create {
        /// The address to invite.
        email: String,
        /// Where the invitation link leads (a full URL or a path).
        #[arg(long)]
        redirect_url: Option<String>,
        /// Days until the invitation expires (Clerk's default: 30).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        expires_in_days: Option<u32>,
        /// Do not send the invitation email.
        #[arg(long)]
        no_notify: bool,
        /// Create it even if the address is already invited or belongs to a user.
        #[arg(long)]
        ignore_existing: bool,
    },
}

/// What `clerk sync` mirrors.
#[derive(Debug, Subcommand)]
pub enum SyncTarget {
    /// Users (`GET /v1/users`).
    #[command(after_help = EXIT_CODES)]
    Users(SyncArgs),
    /// Organizations (`GET /v1/organizations`), and with --memberships their memberships.
    #[command(after_help = EXIT_CODES)]
    Organizations {
        /// Options shared by every sync.
        #[command(flatten)]
        common: SyncArgs,
        /// Also sync each organization's memberships.
        #[arg(long)]
        memberships: bool,
    },
}

/// Options of every sync.
#[derive(Debug, Clone, Args)]
pub struct SyncArgs {
    /// Where.
    #[command(flatten)]
    pub database: Database,
    /// Report what would change, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// After a complete listing, deactivate local rows whose Clerk id no longer exists
    /// upstream (each confirmed gone by a direct request first). Local users are never touched.
    #[arg(long)]
    pub deactivate_missing: bool,
    /// Objects per request and per transaction, 1 to 500 (Clerk's maximum).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub page_size: u32,
}

/// `clerk createsuperuser`.
#[derive(Debug, Clone, Args)]
pub struct CreateSuperuser {
    /// Where.
    #[command(flatten)]
    pub database: Database,
    /// The username (asked for when missing, unless --no-input).
    #[arg(long)]
    pub username: Option<String>,
    /// The email (asked for when missing, unless --no-input; optional).
    #[arg(long)]
    pub email: Option<String>,
    /// Never prompt: take the username from --username and the password from
    /// CLERK_SUPERUSER_PASSWORD or --password-stdin.
    #[arg(long)]
    pub no_input: bool,
    /// Read the password from the first line of standard input (implies --no-input).
    #[arg(long)]
    pub password_stdin: bool,
}

/// `clerk mock`.
#[derive(Debug, Clone, Args)]
pub struct Mock {
    /// The loopback port to listen on (0: a free one, printed).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Generated users to serve (`user_gen_00000000` …, made on demand: 100,000 cost no memory up front).
    #[arg(long, default_value_t = 0)]
    pub users: u32,
    /// Generated organizations to serve, each with up to 3 members taken from the users.
    #[arg(long, default_value_t = 0)]
    pub seed_orgs: u32,
    /// POST the webhooks Clerk sends after each write (`user.updated`, `session.revoked`,
    /// `organization.created`, …) to this URL, for example your app's
    /// http://127.0.0.1:3000/webhooks/clerk, signed with the printed CLERK_WEBHOOK_SIGNING_KEY.
    #[arg(long, value_name = "URL")]
    pub webhook_url: Option<String>,
}
