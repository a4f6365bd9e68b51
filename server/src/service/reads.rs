//! M2–M5, ListEvents and WatchEvents: filtered, keyset-paged reads in the documented
//! order, one query per page. Page tokens are opaque (base64 of the last
//! row's sort key).

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Serialize, de::DeserializeOwned};
use tokio::sync::mpsc;

use super::create::LayoutView;
use super::scope::{Caller, Scope};
use super::{Services, validate};
use crate::domain::{EventType, PaneState};
use crate::error::{Error, Result};
use crate::events::watch::{self, Start};
use crate::store::events;
use crate::store::layouts::{self, LayoutFilter};
use crate::store::models::{EventRow, LayoutRow, PaneRow};
use crate::store::panes::{self, PaneFilter};

/// The filter of an event watch or list, as the service builds it.
pub(crate) use crate::store::events::EventFilter;

/// Default and maximum page sizes (SPEC §7).
pub(crate) const DEFAULT_PAGE: u32 = 50;
pub(crate) const MAX_PAGE: u32 = 200;

/// One page of results and the token of the next, if any.
#[derive(Debug)]
pub(crate) struct Page<T> {
    pub items: Vec<T>,
    pub next_page_token: Option<String>,
}

impl<T> Page<T> {
    /// No items and no next page.
    pub(crate) fn empty() -> Self {
        Page {
            items: Vec::new(),
            next_page_token: None,
        }
    }
}

/// 0 means the default; above the maximum is coerced to it.
pub(crate) fn page_size(requested: u32) -> i64 {
    i64::from(match requested {
        0 => DEFAULT_PAGE,
        n => n.min(MAX_PAGE),
    })
}

pub(crate) fn encode_token<K: Serialize>(key: &K) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
}

pub(crate) fn decode_token<K: DeserializeOwned>(token: &str) -> Result<Option<K>> {
    if token.is_empty() {
        return Ok(None);
    }
    let bad = || Error::validation("page_token", "not a token returned by this method");
    if token.len() > 1024 {
        return Err(bad());
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    serde_json::from_slice(&bytes).map(Some).map_err(|_| bad())
}

/// Builds a page from `limit + 1` fetched rows.
pub(crate) fn paged<R, T, K: Serialize>(
    mut rows: Vec<R>,
    limit: i64,
    key: impl Fn(&R) -> K,
    item: impl Fn(R) -> T,
) -> Page<T> {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_page_token = more
        .then(|| rows.last().map(|r| encode_token(&key(r))))
        .flatten();
    Page {
        items: rows.into_iter().map(item).collect(),
        next_page_token,
    }
}

impl Services {
    /// M2.
    pub(crate) async fn list_layouts(
        &self,
        scope: &Scope,
        states: Vec<PaneState>,
        size: u32,
        token: &str,
    ) -> Result<Page<LayoutRow>> {
        let Some(container_id) = scope.filter() else {
            return Ok(Page::empty());
        };
        let filter = LayoutFilter {
            container_id,
            states,
        };
        let after = decode_token::<layouts::LayoutCursor>(token)?;
        let limit = page_size(size);
        let rows = self
            .store
            .read(move |conn| layouts::page(conn, &filter, after, limit + 1))
            .await?;
        Ok(paged(
            rows,
            limit,
            |(rank, l)| (*rank, l.id.clone()),
            |(_, l)| l,
        ))
    }

    /// M3. Removed panes only when `include_terminal`. One read: the
    /// caller's reach is checked on the row it returns.
    pub(crate) async fn get_layout(
        &self,
        caller: &Caller,
        id: &str,
        include_terminal: bool,
    ) -> Result<LayoutView> {
        validate::field_token("layout_id", id)?;
        let key = id.to_string();
        let found = self
            .store
            .read(move |conn| {
                let Some(layout) = layouts::get(conn, &key)? else {
                    return Ok(None);
                };
                let mut panes = panes::for_layout(conn, &key)?;
                if !include_terminal {
                    panes.retain(|p| p.state != PaneState::Removed);
                }
                let agents = crate::store::agents::of_panes(conn, &panes)?;
                Ok(Some((layout, panes, agents)))
            })
            .await?;
        let (layout, panes, agents) = found.ok_or_else(|| Error::LayoutNotFound {
            layout_id: id.to_string(),
        })?;
        caller.check(&layout.container_id)?;
        Ok(LayoutView {
            layout,
            panes,
            agents,
        })
    }

    /// M4.
    pub(crate) async fn list_panes(
        &self,
        scope: &Scope,
        layout_id: Option<String>,
        states: Vec<PaneState>,
        size: u32,
        token: &str,
    ) -> Result<Page<PaneRow>> {
        let Some(container_id) = scope.filter() else {
            return Ok(Page::empty());
        };
        if let Some(l) = &layout_id {
            validate::field_token("layout_id", l)?;
        }
        let filter = PaneFilter {
            container_id,
            layout_id,
            states,
        };
        let after = decode_token::<panes::PaneCursor>(token)?;
        let limit = page_size(size);
        let rows = self
            .store
            .read(move |conn| panes::page(conn, &filter, after, limit + 1))
            .await?;
        Ok(paged(
            rows,
            limit,
            |(rank, p)| (*rank, p.layout_id.clone(), p.tmux_pane_index, p.id.clone()),
            |(_, p)| p,
        ))
    }

    /// M5: a pane and, on request, its predecessors newest first (one
    /// read; the caller's reach is checked on the row).
    pub(crate) async fn get_pane(
        &self,
        caller: &Caller,
        id: &str,
        with_chain: bool,
    ) -> Result<(PaneRow, Vec<PaneRow>)> {
        validate::field_token("pane_id", id)?;
        let key = id.to_string();
        let found = self
            .store
            .read(move |conn| {
                let Some(pane) = panes::get(conn, &key)? else {
                    return Ok(None);
                };
                let mut chain = Vec::new();
                if with_chain {
                    let mut next = pane.predecessor_id.clone();
                    // chain_depth bounds the walk even on a corrupt link.
                    while let Some(pid) = next.take() {
                        if chain.len() > pane.chain_depth as usize {
                            break;
                        }
                        if let Some(p) = panes::get(conn, &pid)? {
                            next = p.predecessor_id.clone();
                            chain.push(p);
                        }
                    }
                }
                Ok(Some((pane, chain)))
            })
            .await?;
        let (pane, chain) = found.ok_or_else(|| Error::PaneNotFound {
            pane_id: id.to_string(),
        })?;
        caller.check(&pane.container_id)?;
        Ok((pane, chain))
    }

    /// The event filter of a watch or list: its container scoped for the
    /// caller (`None`: nothing to show), and a named layout or pane that
    /// must exist and be within reach — an unknown one answers its
    /// not-found code at once instead of a stream that never yields.
    pub(crate) async fn event_filter(
        &self,
        caller: &Caller,
        container: Option<String>,
        layout_id: Option<String>,
        pane_id: Option<String>,
        event_types: Vec<EventType>,
    ) -> Result<Option<EventFilter>> {
        for (field, value) in [("layout_id", &layout_id), ("pane_id", &pane_id)] {
            if let Some(v) = value {
                validate::field_token(field, v)?;
            }
        }
        let (l, p) = (layout_id.clone(), pane_id.clone());
        let (layout, pane) = self
            .store
            .read(move |conn| {
                let layout = l.map(|id| layouts::get(conn, &id)).transpose()?;
                let pane = p.map(|id| panes::get(conn, &id)).transpose()?;
                Ok((layout, pane))
            })
            .await?;
        if let Some(id) = &layout_id {
            let row = layout.flatten().ok_or_else(|| Error::LayoutNotFound {
                layout_id: id.clone(),
            })?;
            caller.check(&row.container_id)?;
        }
        if let Some(id) = &pane_id {
            let row = pane.flatten().ok_or_else(|| Error::PaneNotFound {
                pane_id: id.clone(),
            })?;
            caller.check(&row.container_id)?;
        }
        let scope = self.scope(caller, container).await?;
        Ok(scope.filter().map(|container_id| EventFilter {
            container_id,
            layout_id,
            pane_id,
            event_types,
        }))
    }

    /// WatchEvents: replay after the start, then live, on a bounded channel.
    pub(crate) async fn watch_events(
        &self,
        start: Start,
        filter: EventFilter,
    ) -> Result<mpsc::Receiver<Result<Arc<EventRow>>>> {
        watch::spawn(self.store.clone(), start, filter, self.config.watch_buffer).await
    }

    /// ListEvents: history after a sequence, oldest first, or the newest
    /// first (the tail of the log).
    pub(crate) async fn list_events(
        &self,
        after: u64,
        filter: EventFilter,
        page: (u32, &str),
        newest_first: bool,
    ) -> Result<Page<EventRow>> {
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        // The token is the last sequence returned: the next page continues
        // past it in the page's direction.
        let (after, before) = match (decode_token::<i64>(page.1)?, newest_first) {
            (Some(seq), false) => (seq, i64::MAX),
            (Some(seq), true) => (after, seq),
            (None, _) => (after, i64::MAX),
        };
        let limit = page_size(page.0);
        let rows = self
            .store
            .read(move |conn| {
                events::list_between(conn, after, before, &filter, limit + 1, newest_first)
            })
            .await?;
        Ok(paged(rows, limit, |e| i64::from(e.sequence), |e| e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_garbage_is_a_validation_error() {
        let t = encode_token(&(2, "abc".to_string()));
        assert_eq!(
            decode_token::<(i32, String)>(&t).unwrap(),
            Some((2, "abc".to_string()))
        );
        assert!(decode_token::<(i32, String)>("").unwrap().is_none());
        assert!(matches!(
            decode_token::<(i32, String)>("!!!"),
            Err(Error::Validation { .. })
        ));
        assert_eq!((page_size(0), page_size(500), page_size(7)), (50, 200, 7));
    }
}
