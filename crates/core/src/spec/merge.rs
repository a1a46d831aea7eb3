//! `extends`: a variant file patches its base entity by entity, keyed by id (`merge_list`,
//! the [`Entity`] trait), and every entity remembers the files and paths that defined it.

use std::collections::HashMap;

use super::*;

/// An entity that merges by id.
pub(super) trait Entity: Clone {
    fn id(&self) -> Option<&str>;
    fn patch(&mut self, other: Self);
}

pub(super) fn take<T>(mine: &mut Option<T>, theirs: Option<T>) {
    if theirs.is_some() {
        *mine = theirs;
    }
}

impl Entity for RawDepartment {
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
    fn patch(&mut self, o: Self) {
        take(&mut self.name, o.name);
    }
}

impl Entity for RawField {
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
    fn patch(&mut self, o: Self) {
        // Every field named, so that a field added to the form field cannot be forgotten.
        let RawField {
            id: _,
            name,
            ty,
            values,
            labels,
            required,
            min,
            max,
        } = o;
        take(&mut self.name, name);
        take(&mut self.ty, ty);
        take(&mut self.values, values);
        take(&mut self.labels, labels);
        take(&mut self.required, required);
        take(&mut self.min, min);
        take(&mut self.max, max);
    }
}

impl Entity for RawMaterial {
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
    fn patch(&mut self, o: Self) {
        take(&mut self.name, o.name);
        take(&mut self.supplies, o.supplies);
    }
}

impl Entity for RawDocument {
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
    fn patch(&mut self, o: Self) {
        take(&mut self.name, o.name);
        take(&mut self.kind, o.kind);
    }
}

impl Entity for RawItem {
    fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }
    fn patch(&mut self, o: Self) {
        // Every field named, so that a field added to the item cannot be forgotten here.
        let RawItem {
            id: _,
            name,
            kind,
            department,
            stage,
            limit,
            extension,
            special_procedures,
            requires,
            produces,
            after,
            when,
            basis,
            steps,
        } = o;
        take(&mut self.name, name);
        take(&mut self.kind, kind);
        take(&mut self.department, department);
        take(&mut self.stage, stage);
        self.limit = match (self.limit.take(), limit) {
            (Some(RawLimit::Detail(mut a)), Some(RawLimit::Detail(b))) => {
                take(&mut a.statutory, b.statutory);
                take(&mut a.committed, b.committed);
                take(&mut a.unit, b.unit);
                Some(RawLimit::Detail(a))
            }
            (a, b) => b.or(a),
        };
        take(&mut self.extension, extension);
        take(&mut self.special_procedures, special_procedures);
        self.requires = match (self.requires.take(), requires) {
            (Some(mut a), Some(b)) => {
                take(&mut a.materials, b.materials);
                take(&mut a.fields, b.fields);
                take(&mut a.documents, b.documents);
                Some(a)
            }
            (a, b) => b.or(a),
        };
        take(&mut self.produces, produces);
        take(&mut self.after, after);
        take(&mut self.when, when);
        take(&mut self.basis, basis);
        // The steps are replaced whole: a variant gives an item's steps or keeps the base's.
        take(&mut self.steps, steps);
    }
}

pub(super) fn merge_list<T: Entity>(
    list: &mut Vec<T>,
    origins: &mut Origins,
    patch: Vec<T>,
    removed: &[String],
    file: FileId,
    path: &[&str],
) {
    // Drop what the variant removes (base entities only: a variant that adds and removes
    // the same id keeps its own).
    let mut i = 0;
    while i < list.len() {
        if list[i]
            .id()
            .is_some_and(|id| removed.iter().any(|r| r == id))
        {
            list.remove(i);
            origins.remove(i);
        } else {
            i += 1;
        }
    }
    let index: HashMap<String, usize> = list
        .iter()
        .enumerate()
        .filter_map(|(i, e)| e.id().map(|id| (id.to_string(), i)))
        .collect();
    for (k, entity) in patch.into_iter().enumerate() {
        let mut p: Vec<Seg> = path.iter().map(|s| Seg::from(*s)).collect();
        p.push(Seg::Index(k));
        let origin = Origin { file, path: p };
        match entity.id().and_then(|id| index.get(id)) {
            Some(&at) => {
                list[at].patch(entity);
                origins[at].push(origin);
            }
            None => {
                list.push(entity);
                origins.push(vec![origin]);
            }
        }
    }
}

pub(super) fn merge(loaded: &mut Loaded, raw: RawWorkflow, file: FileId) {
    let remove = raw.remove.unwrap_or_default();
    let own_id = raw.workflow.is_some();
    let base = std::sync::Arc::make_mut(&mut loaded.raw);
    macro_rules! top {
        ($field:ident) => {
            if raw.$field.is_some() {
                base.$field = raw.$field;
                loaded
                    .top
                    .entry(stringify!($field))
                    .or_default()
                    .push(Origin {
                        file,
                        path: vec![Seg::from(stringify!($field))],
                    });
            }
        };
    }
    top!(workflow);
    top!(name);
    top!(description);
    top!(calendar);
    top!(blueprint);
    top!(limits);
    top!(stages);
    if file > 0 && !own_id {
        // A variant without its own id is named after its file, not its base.
        base.workflow = None;
    }
    if !remove.items.is_empty() {
        for item in &mut base.items {
            if let Some(after) = &mut item.after {
                after.retain(|a| !remove.items.contains(a));
            }
        }
    }
    merge_list(
        &mut base.departments,
        &mut loaded.departments,
        raw.departments,
        &remove.departments,
        file,
        &["departments"],
    );
    let form = raw.form.unwrap_or_default();
    let base_form = base.form.get_or_insert_with(RawForm::default);
    if form.name.is_some() {
        base_form.name = form.name;
    }
    merge_list(
        &mut base_form.fields,
        &mut loaded.fields,
        form.fields,
        &remove.fields,
        file,
        &["form", "fields"],
    );
    merge_list(
        &mut base.materials,
        &mut loaded.materials,
        raw.materials,
        &remove.materials,
        file,
        &["materials"],
    );
    merge_list(
        &mut base.documents,
        &mut loaded.documents,
        raw.documents,
        &remove.documents,
        file,
        &["documents"],
    );
    merge_list(
        &mut base.items,
        &mut loaded.items,
        raw.items,
        &remove.items,
        file,
        &["items"],
    );
}
