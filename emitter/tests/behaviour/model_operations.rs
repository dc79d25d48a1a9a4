//! Random operation sequences checked against a plain model of Node's listener lists: order of
//! calls, `once` removal, prepend, removal by id, `remove_all_listeners` and `event_names` order.

use std::sync::{Arc, Mutex};

use nodebook_emitter::{Emitter, ListenerId};
use proptest::prelude::*;

const NAMES: [&str; 4] = ["a", "b", "7", "c"];

#[derive(Clone, Debug)]
enum Op {
    Add {
        name: usize,
        once: bool,
        prepend: bool,
    },
    Off {
        name: usize,
        pick: usize,
    },
    Emit {
        name: usize,
    },
    RemoveAll {
        name: Option<usize>,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..NAMES.len(), any::<bool>(), any::<bool>())
            .prop_map(|(name, once, prepend)| Op::Add { name, once, prepend }),
        2 => (0..NAMES.len(), 0..8usize).prop_map(|(name, pick)| Op::Off { name, pick }),
        3 => (0..NAMES.len()).prop_map(|name| Op::Emit { name }),
        1 => proptest::option::of(0..NAMES.len()).prop_map(|name| Op::RemoveAll { name }),
    ]
}

/// The model: per name, the registrations in call order; names in first-add order.
#[derive(Default)]
struct Model {
    lists: Vec<(usize, Vec<(ListenerId, bool)>)>,
}

impl Model {
    fn list(&mut self, name: usize) -> &mut Vec<(ListenerId, bool)> {
        if let Some(index) = self.lists.iter().position(|(n, _)| *n == name) {
            return &mut self.lists[index].1;
        }
        self.lists.push((name, Vec::new()));
        &mut self.lists.last_mut().unwrap().1
    }

    fn prune(&mut self) {
        self.lists.retain(|(_, list)| !list.is_empty());
    }

    fn names(&self) -> Vec<String> {
        // Node's order: array-index names first (only "7" here), then first-add order.
        let mut names: Vec<String> = self
            .lists
            .iter()
            .map(|(n, _)| NAMES[*n].to_owned())
            .collect();
        names.sort_by_key(|name| name != "7");
        names
    }
}

proptest! {
    #[test]
    fn emitter_matches_the_model(ops in proptest::collection::vec(op(), 1..60)) {
        let emitter: Emitter<()> = Emitter::new();
        emitter.set_max_listeners(0);
        let calls = Arc::new(Mutex::new(Vec::new()));
        let mut model = Model::default();
        for op in ops {
            match op {
                Op::Add { name, once, prepend } => {
                    let slot = Arc::new(Mutex::new(None));
                    let (sink, own) = (Arc::clone(&calls), Arc::clone(&slot));
                    let listener = move |_: &()| sink.lock().unwrap().push(own.lock().unwrap().unwrap());
                    let id = match (once, prepend) {
                        (false, false) => emitter.on(NAMES[name], listener),
                        (true, false) => emitter.once(NAMES[name], listener),
                        (false, true) => emitter.prepend_listener(NAMES[name], listener),
                        (true, true) => emitter.prepend_once_listener(NAMES[name], listener),
                    };
                    *slot.lock().unwrap() = Some(id);
                    let list = model.list(name);
                    if prepend { list.insert(0, (id, once)) } else { list.push((id, once)) }
                }
                Op::Off { name, pick } => {
                    let list = model.list(name);
                    if list.is_empty() {
                        model.prune();
                        continue;
                    }
                    let (id, _) = list.remove(pick % list.len());
                    model.prune();
                    prop_assert!(emitter.off(NAMES[name], id));
                    prop_assert!(!emitter.off(NAMES[name], id));
                }
                Op::Emit { name } => {
                    let list = model.list(name);
                    let expected: Vec<ListenerId> = list.iter().map(|(id, _)| *id).collect();
                    list.retain(|(_, once)| !once);
                    model.prune();
                    calls.lock().unwrap().clear();
                    prop_assert_eq!(emitter.emit(NAMES[name], ()), Ok(!expected.is_empty()));
                    prop_assert_eq!(&*calls.lock().unwrap(), &expected);
                }
                Op::RemoveAll { name } => {
                    match name {
                        Some(name) => model.list(name).clear(),
                        None => model.lists.clear(),
                    }
                    model.prune();
                    emitter.remove_all_listeners(name.map(|n| NAMES[n]));
                }
            }
            for (name, list) in &model.lists {
                let ids: Vec<ListenerId> = list.iter().map(|(id, _)| *id).collect();
                prop_assert_eq!(emitter.listeners(NAMES[*name]), ids);
            }
            let names: Vec<String> = emitter.event_names().iter().map(ToString::to_string).collect();
            prop_assert_eq!(names, model.names());
        }
    }
}
