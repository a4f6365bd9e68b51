//! Names to objects, through the daemon's `ResolveName`: the pane Enter
//! attaches to (with its agent and container), and what the operator typed
//! at the go-to prompt (a label, a session name, `c1:work`, an id prefix).

use agenttower::client::{self, ManagedSessionsServiceClient, resolve_name as resolve};
use agenttower::names::ShortName as _;
use agenttower::pb;

use crate::conn::{Server, failed};
use crate::words::hint_for;

/// What the go-to prompt tries, in order: a label names a pane before an
/// (adopted) agent, and a session name names a layout last.
const GO_TO_KINDS: [pb::NameKind; 3] = [
    pb::NameKind::Pane,
    pb::NameKind::Agent,
    pb::NameKind::Layout,
];

/// The pane `pane_id` with its agent (once registered) and container.
pub(crate) async fn attach_target(c: &mut ManagedSessionsServiceClient, pane_id: String) -> Server {
    match resolve(c, pb::NameKind::Pane, &pane_id).await {
        Ok(r) => Server::AttachTo(Box::new(r)),
        Err(status) => failed(&status),
    }
}

/// The first of a pane, an agent or a layout that `name` names.
pub(crate) async fn go_to(c: &mut ManagedSessionsServiceClient, name: String) -> Server {
    let mut search = Search::new(name);
    for kind in GO_TO_KINDS {
        let answer = resolve(c, kind, &search.name).await;
        if let Some(done) = search.take(answer) {
            return done;
        }
    }
    search.end()
}

/// The go-to search, one kind's answer at a time. The first kind that
/// names exactly one object wins. A name that is ambiguous for one kind
/// goes on to the next (ids are time-ordered: 8 characters of a layout's id
/// may also start the ids of the panes created with it); when no kind has
/// exactly one, the first ambiguity is the answer (its message lists the
/// candidates).
/// Any other error ends the search.
struct Search {
    name: String,
    ambiguous: Option<Server>,
}

impl Search {
    fn new(name: String) -> Search {
        Search {
            name,
            ambiguous: None,
        }
    }

    /// Folds one kind's answer in; `Some` is the search's answer.
    fn take(&mut self, answer: Result<pb::ResolveNameResponse, tonic::Status>) -> Option<Server> {
        let status = match answer {
            Ok(found) => {
                return Some(Server::Found {
                    name: std::mem::take(&mut self.name),
                    found: Box::new(found),
                });
            }
            Err(status) => status,
        };
        match client::api_error(&status).map(|e| e.code) {
            Some(pb::ErrorCode::NameNotFound) => None,
            Some(pb::ErrorCode::NameAmbiguous) => {
                self.ambiguous.get_or_insert_with(|| failed(&status));
                None
            }
            _ => Some(failed(&status)),
        }
    }

    /// The answer once every kind was tried.
    fn end(self) -> Server {
        let code = pb::ErrorCode::NameNotFound;
        self.ambiguous.unwrap_or_else(|| Server::Failed {
            code: code.short_name(),
            message: format!("no pane, agent or layout is named {:?}", self.name),
            hint: hint_for(code).into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agenttower::status::error_status;

    fn not_found() -> tonic::Status {
        error_status(tonic::Code::NotFound, "name_not_found", "no such name", [])
    }

    fn ambiguous(candidates: &str) -> tonic::Status {
        error_status(
            tonic::Code::FailedPrecondition,
            "name_ambiguous",
            &format!(
                "\"work\" names more than one layout: {}",
                candidates.replace(',', ", ")
            ),
            [("candidates".to_string(), candidates.to_string())],
        )
    }

    fn layout() -> pb::ResolveNameResponse {
        pb::ResolveNameResponse {
            kind: pb::NameKind::Layout as i32,
            id: "L1".into(),
            ..Default::default()
        }
    }

    fn code(server: &Server) -> &str {
        match server {
            Server::Failed { code, .. } => code,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_first_kind_that_names_one_object_wins() {
        // An id prefix shared by the panes and agents, unique among layouts.
        let mut search = Search::new("01a204c2".into());
        assert!(search.take(Err(ambiguous("p1,p2"))).is_none());
        assert!(search.take(Err(ambiguous("a1,a2"))).is_none());
        match search.take(Ok(layout())) {
            Some(Server::Found { name, found }) => {
                assert_eq!((name.as_str(), found.id.as_str()), ("01a204c2", "L1"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn without_a_match_the_first_ambiguity_or_not_found_answers() {
        let mut search = Search::new("work".into());
        assert!(search.take(Err(not_found())).is_none());
        assert!(search.take(Err(not_found())).is_none());
        assert!(search.take(Err(ambiguous("c1:work,c2:work"))).is_none());
        let answer = search.end();
        assert_eq!(code(&answer), "name_ambiguous");
        let Server::Failed { message, hint, .. } = answer else {
            unreachable!()
        };
        assert_eq!(
            message,
            "\"work\" names more than one layout: c1:work, c2:work"
        );
        assert!(hint.contains("c1:work"), "{hint}");

        let mut search = Search::new("nope".into());
        for _ in GO_TO_KINDS {
            assert!(search.take(Err(not_found())).is_none());
        }
        let answer = search.end();
        assert_eq!(code(&answer), "name_not_found");
        assert!(
            matches!(&answer, Server::Failed { message, .. } if message.contains("\"nope\"")),
            "{answer:?}"
        );
    }

    #[test]
    fn any_other_error_ends_the_search() {
        let mut search = Search::new("work".into());
        let answer = search.take(Err(tonic::Status::unavailable("gone")));
        assert_eq!(code(&answer.expect("ended")), "daemon_unavailable");
    }
}
