//! The verbs of the server's table ([`onewindow::server::verbs`]) as subcommands:
//! `onewindow tasks <verb>` for a department's, `onewindow project <verb>` for the
//! window's. Each offers `--project`, `--item` for a verb on an item, and one flag per
//! field of the verb's row; the message is built from them as the console builds it from
//! a form, and sent over gRPC. A new verb needs nothing here.

use std::marker::PhantomData;

use anyhow::Result;
use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches, Subcommand};
use onewindow::server::verbs::{self, Family, Kind, Verb};

use super::{print_response, Conn, RequestId};

/// Which family of verbs a command holds.
pub trait Of {
    /// The family.
    const FAMILY: Family;
}

/// A department's verbs (`onewindow tasks …`).
pub struct Department;
impl Of for Department {
    const FAMILY: Family = Family::Department;
}

/// The window's verbs (`onewindow project …`).
pub struct Window;
impl Of for Window {
    const FAMILY: Family = Family::Window;
}

/// One verb as the command line gave it.
pub struct VerbCommand<F> {
    verb: &'static Verb,
    conn: Conn,
    request_id: RequestId,
    project: String,
    item: String,
    given: Vec<(&'static str, Vec<String>)>,
    family: PhantomData<F>,
}

fn family<F: Of>() -> impl Iterator<Item = &'static Verb> {
    verbs::all().filter(|v| v.family == F::FAMILY)
}

/// The subcommand of one verb.
fn subcommand(v: &'static Verb) -> Command {
    // The arguments first: each group's `augment_args` sets the command's about too.
    let mut c = RequestId::augment_args(Conn::augment_args(Command::new(v.name))).about(v.summary);
    c = c.arg(
        Arg::new("project")
            .long("project")
            .value_name("PROJECT")
            .required(true)
            .help("The project."),
    );
    if v.on_item {
        c = c.arg(
            Arg::new("item")
                .long("item")
                .value_name("ITEM")
                .required(true)
                .help("The item."),
        );
    }
    for f in v.fields {
        let mut a = Arg::new(f.name)
            .long(f.flag)
            .value_name(f.flag.to_uppercase())
            .help(f.help())
            .required(f.required);
        if let Some(alias) = f.alias {
            a = a.alias(alias);
        }
        a = match f.kind {
            Kind::Flag => a.action(ArgAction::SetTrue).required(false),
            Kind::MaterialIds | Kind::Materials => a.value_delimiter(',').action(ArgAction::Append),
            Kind::Numbers => a.action(ArgAction::Append).value_name("DOCUMENT=NUMBER"),
            Kind::Text | Kind::Person | Kind::EarlierItem | Kind::SpecialProcedure => a,
        };
        c = c.arg(a);
    }
    c
}

impl<F: Of> FromArgMatches for VerbCommand<F> {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        let missing = || clap::Error::new(clap::error::ErrorKind::MissingSubcommand);
        let (name, m) = m.subcommand().ok_or_else(missing)?;
        let verb = verbs::find(F::FAMILY, name).ok_or_else(missing)?;
        let one = |id: &str| m.get_one::<String>(id).cloned().unwrap_or_default();
        let given = verb
            .fields
            .iter()
            .map(|f| {
                let values = match f.kind {
                    Kind::Flag => vec![m.get_flag(f.name).to_string()],
                    _ => m
                        .get_many::<String>(f.name)
                        .map(|v| v.cloned().collect())
                        .unwrap_or_default(),
                };
                (f.name, values)
            })
            .collect();
        Ok(VerbCommand {
            verb,
            conn: Conn::from_arg_matches(m)?,
            request_id: RequestId::from_arg_matches(m)?,
            project: one("project"),
            item: if verb.on_item {
                one("item")
            } else {
                String::new()
            },
            given,
            family: PhantomData,
        })
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl<F: Of> Subcommand for VerbCommand<F> {
    fn augment_subcommands(mut cmd: Command) -> Command {
        for v in family::<F>() {
            cmd = cmd.subcommand(subcommand(v));
        }
        cmd
    }

    fn augment_subcommands_for_update(cmd: Command) -> Command {
        Self::augment_subcommands(cmd)
    }

    fn has_subcommand(name: &str) -> bool {
        family::<F>().any(|v| v.name == name)
    }
}

impl<F> VerbCommand<F> {
    /// Sends the verb's message and prints the answer.
    pub async fn run(self) -> Result<()> {
        let message = self
            .verb
            .message(&self.request_id.take(), &self.project, &self.item, |f| {
                self.given
                    .iter()
                    .find(|(n, _)| *n == f.name)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            });
        let channel = self.conn.channel().await?;
        let (metadata, _, ()) = self.conn.request(())?.into_parts();
        let out = verbs::call(channel, metadata, self.verb, message).await?;
        print_response(&out);
        Ok(())
    }
}
