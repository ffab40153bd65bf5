//! `clerk createsuperuser`: a local staff superuser with an argon2id password hash.

use std::io::{BufRead, IsTerminal, Write};

use clerk_core::model::NewLocalUser;
use clerk_core::password::{check_strength, hash_password};
use clerk_core::store::{Change, Conflict, StoreError, StoreWriter, UserStore, WriteBatch};
use clerk_core::time::{Clock, SystemClock};
use clerk_store::AnyStore;
use rand::RngCore;

use crate::args::CreateSuperuser;
use crate::error::CliError;

/// The environment variable holding the password in non-interactive mode.
pub const PASSWORD_VAR: &str = "CLERK_SUPERUSER_PASSWORD";

/// Longest username accepted (Django's limit).
const MAX_USERNAME_CHARS: usize = 150;

/// Checks a username: 1 to 150 letters, digits and `@ . + - _` (Django's rule).
///
/// # Errors
/// A message saying what is wrong.
pub fn validate_username(username: &str) -> Result<(), String> {
    if username.is_empty() {
        return Err("the username must not be empty".into());
    }
    if username.chars().count() > MAX_USERNAME_CHARS {
        return Err(format!(
            "the username must have at most {MAX_USERNAME_CHARS} characters"
        ));
    }
    if let Some(c) = username
        .chars()
        .find(|c| !(c.is_alphanumeric() || "@.+-_".contains(*c)))
    {
        return Err(format!(
            "the username may hold letters, digits and @ . + - _ only, not {c:?}"
        ));
    }
    Ok(())
}

/// Checks an email's shape: one `@` with something on both sides, no spaces.
///
/// # Errors
/// A message saying what is wrong.
pub fn validate_email(email: &str) -> Result<(), String> {
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !email.chars().any(char::is_whitespace) =>
        {
            Ok(())
        }
        _ => Err(format!("{email:?} is not an email address")),
    }
}

/// Runs `clerk createsuperuser`; `lookup` reads the environment (the password variable).
///
/// # Errors
/// [`CliError::Usage`] for missing input in non-interactive mode, [`CliError::WeakPassword`]
/// / [`CliError::Refused`] for refused input, [`CliError::Store`] when the database fails.
pub async fn run(
    args: CreateSuperuser,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<(), CliError> {
    let no_input = args.no_input || args.password_stdin;
    if !no_input && !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(format!(
            "standard input is not a terminal: pass --no-input with --username, and the password in {PASSWORD_VAR} or through --password-stdin"
        )));
    }
    let store = AnyStore::connect(&args.database.database_url)
        .await
        .map_err(|e| CliError::store("DATABASE_URL", e))?;
    let backend = store.backend_name();
    let (username, email, password) = if no_input {
        non_interactive(&args, &lookup)?
    } else {
        interactive(&args, &store).await?
    };
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let hash = hash_password(&password, &salt)?;
    let result = create(&store, &username, email, hash).await;
    store.close().await;
    let id = result.map_err(|e| match e {
        StoreError::Conflict(Conflict::Username) => {
            CliError::Refused(format!("the username {username:?} is already taken"))
        }
        StoreError::Conflict(Conflict::Email) => {
            CliError::Refused("the email is already used by another user".into())
        }
        other => CliError::store(backend, other),
    })?;
    println!("superuser {username:?} created (id {id})");
    Ok(())
}

fn non_interactive(
    args: &CreateSuperuser,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<(String, Option<String>, String), CliError> {
    let username = args
        .username
        .clone()
        .ok_or_else(|| CliError::Usage("--username is required with --no-input".into()))?;
    validate_username(&username).map_err(CliError::Usage)?;
    if let Some(email) = &args.email {
        validate_email(email).map_err(CliError::Usage)?;
    }
    let password = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(CliError::io("reading the password from standard input"))?;
        line.trim_end_matches(['\n', '\r']).to_owned()
    } else {
        lookup(PASSWORD_VAR).ok_or_else(|| {
            CliError::Usage(format!(
                "{PASSWORD_VAR}: required with --no-input (or pass --password-stdin)"
            ))
        })?
    };
    check_strength(&password, &context(&username, args.email.as_deref()))?;
    Ok((username, args.email.clone(), password))
}

fn context<'a>(username: &'a str, email: Option<&'a str>) -> Vec<&'a str> {
    let mut context = vec![username];
    context.extend(email);
    context
}

/// Prompts on stderr, reads stdin; the password twice through the terminal, hidden. Asks
/// again after a refused answer, as Django does.
async fn interactive(
    args: &CreateSuperuser,
    store: &AnyStore,
) -> Result<(String, Option<String>, String), CliError> {
    let users = store.clone().into_dyn();
    let username = loop {
        let answer = match &args.username {
            Some(given) => given.clone(),
            None => prompt("Username: ")?,
        };
        if let Err(message) = validate_username(&answer) {
            if args.username.is_some() {
                return Err(CliError::Usage(message));
            }
            eprintln!("Error: {message}.");
            continue;
        }
        let taken = users
            .local_user_by_username(&answer)
            .await
            .map_err(|e| CliError::store(store.backend_name(), e))?;
        if taken.is_some() {
            let message = format!("the username {answer:?} is already taken");
            if args.username.is_some() {
                return Err(CliError::Refused(message));
            }
            eprintln!("Error: {message}.");
            continue;
        }
        break answer;
    };
    let email = loop {
        let answer = match &args.email {
            Some(given) => given.clone(),
            None => prompt("Email address (optional): ")?,
        };
        if answer.is_empty() {
            break None;
        }
        match validate_email(&answer) {
            Ok(()) => break Some(answer),
            Err(message) if args.email.is_some() => return Err(CliError::Usage(message)),
            Err(message) => eprintln!("Error: {message}."),
        }
    };
    let password = loop {
        let first = rpassword::prompt_password("Password: ")
            .map_err(CliError::io("reading the password"))?;
        let second = rpassword::prompt_password("Password (again): ")
            .map_err(CliError::io("reading the password"))?;
        if first != second {
            eprintln!("Error: the two passwords differ.");
            continue;
        }
        match check_strength(&first, &context(&username, email.as_deref())) {
            Ok(()) => break first,
            Err(weak) => eprintln!("Error: {weak}."),
        }
    };
    Ok((username, email, password))
}

fn prompt(question: &str) -> Result<String, CliError> {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{question}");
    let _ = err.flush();
    let mut line = String::new();
    let read = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(CliError::io("reading the answer"))?;
    if read == 0 {
        return Err(CliError::Usage(
            "standard input closed before an answer".into(),
        ));
    }
    Ok(line.trim().to_owned())
}

/// Writes the user (staff, superuser, with the password hash); returns its local id.
async fn create(
    store: &AnyStore,
    username: &str,
    email: Option<String>,
    hash: String,
) -> Result<i64, StoreError> {
    let mut user = NewLocalUser::new(username);
    user.email = email;
    user.password_hash = Some(hash);
    user.is_staff = true;
    user.is_superuser = true;
    let now = SystemClock.now();
    let store = store.clone().into_dyn();
    let _ = store
        .apply(WriteBatch::single(now, Change::CreateLocalUser(user)))
        .await?;
    let created = store
        .local_user_by_username(username)
        .await?
        .ok_or_else(|| StoreError::Invalid("the new user was not found after its insert".into()))?;
    Ok(created.id.0)
}
