//! A scope's table of groups, shared: its process writes it, and anyone
//! reads it without a message (as Erlang's pg reads its ETS table), and
//! those who monitor a group or the scope hear of each change as it is
//! made.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use beamish_core::{NodeName, Pid};
use parking_lot::RwLock;
use tokio::sync::mpsc;

use super::{GroupEvent, GroupEvents};

/// One group: its members on each node, this node's among them.
#[derive(Debug, Default)]
struct Group {
    /// Shared with broadcasts in progress; copied when changed.
    by_node: BTreeMap<NodeName, Arc<Vec<Pid>>>,
}

/// Someone told of changes: to one group, or to every group.
#[derive(Debug)]
struct Watcher {
    group: Option<String>,
    events: mpsc::UnboundedSender<GroupEvent>,
}

#[derive(Debug, Default)]
struct Inner {
    groups: HashMap<String, Group>,
    watchers: Vec<Watcher>,
}

/// A scope's groups, behind a lock held only for a lookup or a change.
#[derive(Debug)]
pub(crate) struct Table {
    /// This node.
    me: NodeName,
    inner: RwLock<Inner>,
}

impl Table {
    pub(crate) fn new(me: NodeName) -> Self {
        Self {
            me,
            inner: RwLock::new(Inner::default()),
        }
    }

    /// Every member of `group`, on every node, in no particular order; a
    /// process that joined twice is there twice.
    pub(crate) fn members(&self, group: &str) -> Vec<Pid> {
        let inner = self.inner.read();
        inner.groups.get(group).map_or_else(Vec::new, |group| {
            group
                .by_node
                .values()
                .flat_map(|pids| pids.iter().copied())
                .collect()
        })
    }

    /// The members of `group` on this node.
    pub(crate) fn local_members(&self, group: &str) -> Vec<Pid> {
        self.on_node(group, self.me)
    }

    /// The members of `group` on `node`.
    pub(crate) fn on_node(&self, group: &str, node: NodeName) -> Vec<Pid> {
        let inner = self.inner.read();
        inner
            .groups
            .get(group)
            .and_then(|group| group.by_node.get(&node))
            .map_or_else(Vec::new, |pids| pids.to_vec())
    }

    /// The nodes with members in any group whose name `wanted` picks,
    /// looked through under one lock, without copying a name.
    pub(crate) fn nodes_of(&self, wanted: impl Fn(&str) -> bool) -> BTreeSet<NodeName> {
        let inner = self.inner.read();
        let mut nodes = BTreeSet::new();
        for (name, group) in &inner.groups {
            if wanted(name) {
                nodes.extend(
                    group
                        .by_node
                        .iter()
                        .filter(|(_, pids)| !pids.is_empty())
                        .map(|(node, _)| *node),
                );
            }
        }
        nodes
    }

    /// Every member of every group whose name `wanted` picks, each once.
    pub(crate) fn members_of(&self, wanted: impl Fn(&str) -> bool) -> BTreeSet<Pid> {
        let inner = self.inner.read();
        inner
            .groups
            .iter()
            .filter(|(name, _)| wanted(name))
            .flat_map(|(_, group)| group.by_node.values().flat_map(|pids| pids.iter().copied()))
            .collect()
    }

    /// The members of `group`, node by node, as they are now.
    pub(crate) fn by_node(&self, group: &str) -> Vec<(NodeName, Arc<Vec<Pid>>)> {
        let inner = self.inner.read();
        inner.groups.get(group).map_or_else(Vec::new, |group| {
            group
                .by_node
                .iter()
                .map(|(node, pids)| (*node, Arc::clone(pids)))
                .collect()
        })
    }

    /// The groups with members, sorted.
    pub(crate) fn which_groups(&self) -> Vec<String> {
        let mut groups: Vec<String> = self.inner.read().groups.keys().cloned().collect();
        groups.sort();
        groups
    }

    /// The groups with members on this node, sorted.
    pub(crate) fn which_local_groups(&self) -> Vec<String> {
        let inner = self.inner.read();
        let mut groups: Vec<String> = inner
            .groups
            .iter()
            .filter(|(_, group)| group.by_node.contains_key(&self.me))
            .map(|(name, _)| name.clone())
            .collect();
        groups.sort();
        groups
    }

    /// The members of `group` now, and every change to it from now on.
    pub(crate) fn monitor(&self, group: &str) -> (Vec<Pid>, GroupEvents) {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut inner = self.inner.write();
        let members = inner.groups.get(group).map_or_else(Vec::new, |group| {
            group
                .by_node
                .values()
                .flat_map(|pids| pids.iter().copied())
                .collect()
        });
        inner.watchers.push(Watcher {
            group: Some(group.to_owned()),
            events: tx,
        });
        (members, GroupEvents { rx })
    }

    /// Every group with its members now, and every change to any group
    /// from now on.
    pub(crate) fn monitor_scope(&self) -> (HashMap<String, Vec<Pid>>, GroupEvents) {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut inner = self.inner.write();
        let groups = inner
            .groups
            .iter()
            .map(|(name, group)| {
                let members = group.by_node.values().flat_map(|pids| pids.iter().copied());
                (name.clone(), members.collect())
            })
            .collect();
        inner.watchers.push(Watcher {
            group: None,
            events: tx,
        });
        (groups, GroupEvents { rx })
    }

    /// The scope has ended: its watchers hear no more (their streams
    /// end), and it has no members.
    pub(crate) fn close(&self) {
        let mut inner = self.inner.write();
        inner.watchers.clear();
        inner.groups.clear();
    }

    /// `pids`, all of `node`, join `group` (each once more).
    pub(crate) fn join(&self, node: NodeName, group: &str, pids: &[Pid]) {
        if pids.is_empty() {
            return;
        }
        let mut inner = self.inner.write();
        let entry = inner.groups.entry(group.to_owned()).or_default();
        Arc::make_mut(entry.by_node.entry(node).or_default()).extend_from_slice(pids);
        inner.tell(
            group,
            GroupEvent::Join {
                group: group.to_owned(),
                pids: pids.to_vec(),
            },
        );
    }

    /// `pids`, all of `node`, leave `group` once each; returns those that
    /// were members.
    pub(crate) fn leave(&self, node: NodeName, group: &str, pids: &[Pid]) -> Vec<Pid> {
        let mut inner = self.inner.write();
        let left = inner.remove(node, group, pids);
        if !left.is_empty() {
            inner.tell(
                group,
                GroupEvent::Leave {
                    group: group.to_owned(),
                    pids: left.clone(),
                },
            );
        }
        left
    }

    /// Every member on `node` leaves every group.
    pub(crate) fn drop_node(&self, node: NodeName) {
        let mut inner = self.inner.write();
        let groups: Vec<String> = inner
            .groups
            .iter()
            .filter(|(_, group)| group.by_node.contains_key(&node))
            .map(|(name, _)| name.clone())
            .collect();
        for name in groups {
            let left = inner.take_node(node, &name);
            inner.tell(
                &name,
                GroupEvent::Leave {
                    group: name.clone(),
                    pids: left,
                },
            );
        }
    }

    /// `node`'s members are now exactly `groups`: those that joined or
    /// left since are told as such.
    pub(crate) fn sync(&self, node: NodeName, groups: HashMap<String, Vec<Pid>>) {
        let mut inner = self.inner.write();
        let gone: Vec<String> = inner
            .groups
            .iter()
            .filter(|(name, group)| {
                group.by_node.contains_key(&node) && !groups.contains_key(*name)
            })
            .map(|(name, _)| name.clone())
            .collect();
        for name in gone {
            let left = inner.take_node(node, &name);
            inner.tell(
                &name,
                GroupEvent::Leave {
                    group: name.clone(),
                    pids: left,
                },
            );
        }
        for (name, now) in groups {
            let before = inner
                .groups
                .get(&name)
                .and_then(|group| group.by_node.get(&node))
                .map_or_else(Vec::new, |pids| pids.to_vec());
            let (joined, left) = difference(&before, &now);
            if !left.is_empty() {
                inner.remove(node, &name, &left);
                inner.tell(
                    &name,
                    GroupEvent::Leave {
                        group: name.clone(),
                        pids: left,
                    },
                );
            }
            if !joined.is_empty() {
                let entry = inner.groups.entry(name.clone()).or_default();
                Arc::make_mut(entry.by_node.entry(node).or_default()).extend_from_slice(&joined);
                inner.tell(
                    &name,
                    GroupEvent::Join {
                        group: name.clone(),
                        pids: joined,
                    },
                );
            }
        }
    }
}

impl Inner {
    /// Takes one of each of `pids` out of `node`'s members of `group`;
    /// returns those found. A group left empty goes.
    fn remove(&mut self, node: NodeName, name: &str, pids: &[Pid]) -> Vec<Pid> {
        let Some(group) = self.groups.get_mut(name) else {
            return Vec::new();
        };
        let Some(members) = group.by_node.get_mut(&node) else {
            return Vec::new();
        };
        let mut found = Vec::new();
        let members = Arc::make_mut(members);
        for pid in pids {
            if let Some(at) = members.iter().position(|member| member == pid) {
                members.swap_remove(at);
                found.push(*pid);
            }
        }
        if members.is_empty() {
            group.by_node.remove(&node);
            if group.by_node.is_empty() {
                self.groups.remove(name);
            }
        }
        found
    }

    /// Takes all of `node`'s members of `group` out.
    fn take_node(&mut self, node: NodeName, name: &str) -> Vec<Pid> {
        let Some(group) = self.groups.get_mut(name) else {
            return Vec::new();
        };
        let left = group
            .by_node
            .remove(&node)
            .map_or_else(Vec::new, |pids| pids.to_vec());
        if group.by_node.is_empty() {
            self.groups.remove(name);
        }
        left
    }

    /// Tells the watchers of `group`, and of the whole scope, of `event`;
    /// those gone are forgotten.
    fn tell(&mut self, group: &str, event: GroupEvent) {
        self.watchers.retain(|watcher| {
            if watcher
                .group
                .as_deref()
                .is_some_and(|watched| watched != group)
            {
                return !watcher.events.is_closed();
            }
            watcher.events.send(event.clone()).is_ok()
        });
    }
}

/// What joined (in `now`, not in `before`) and what left (in `before`,
/// not in `now`), counting a process as many times as it is listed.
fn difference(before: &[Pid], now: &[Pid]) -> (Vec<Pid>, Vec<Pid>) {
    let mut count: HashMap<Pid, isize> = HashMap::new();
    for pid in now {
        *count.entry(*pid).or_default() += 1;
    }
    for pid in before {
        *count.entry(*pid).or_default() -= 1;
    }
    let mut joined = Vec::new();
    let mut left = Vec::new();
    for (pid, n) in count {
        for _ in 0..n.unsigned_abs() {
            if n > 0 {
                joined.push(pid);
            } else {
                left.push(pid);
            }
        }
    }
    (joined, left)
}
