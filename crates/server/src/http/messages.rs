//! What the console says when the API refuses: a sentence in the reader's language (zh-CN
//! by default, English on request), built from the refusal's typed reason and subjects
//! (`google.rpc.ErrorInfo`, [`crate::status::refusal_status`]) with the workflow's names
//! for items, departments, documents and states, never from the API's English text.
//!
//! The sentences are a Fluent catalogue (`locales/zh-CN.ftl`, `locales/en.ftl`, compiled
//! in): translators edit them without touching code, and a message may use or leave out
//! any subject (Chinese drops the English `why` an engine refusal carries; the page shows
//! the API's own message beneath, small, for whoever must report it).

use std::sync::LazyLock;

use axum::http::{header, HeaderMap};
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};
use tonic_types::StatusExt;

use onewindow_core::plan::Plan;

/// The reader's language.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Lang {
    /// 简体中文, the default.
    #[default]
    Zh,
    /// English.
    En,
}

/// The cookie that holds a reader's choice of language.
pub(crate) const LANG_COOKIE: &str = "onewindow_lang";

impl Lang {
    /// The language a request's cookie chose (Chinese without one).
    pub(crate) fn of(headers: &HeaderMap) -> Lang {
        let chosen = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|h| h.to_str().ok())
            .flat_map(|h| h.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .any(|(k, v)| k == LANG_COOKIE && v == "en");
        if chosen {
            Lang::En
        } else {
            Lang::Zh
        }
    }

    /// The `lang` attribute of a page.
    pub(crate) fn tag(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }
}

struct Catalogue {
    zh: FluentBundle<FluentResource>,
    en: FluentBundle<FluentResource>,
}

fn bundle(tag: unic_langid::LanguageIdentifier, text: &str) -> FluentBundle<FluentResource> {
    let resource = FluentResource::try_new(text.to_string())
        .unwrap_or_else(|(_, errors)| panic!("the {tag} catalogue does not parse: {errors:?}"));
    let mut b = FluentBundle::new_concurrent(vec![tag.clone()]);
    // The console's pages are left-to-right throughout: no isolation marks around names.
    b.set_use_isolating(false);
    b.add_resource(resource)
        .unwrap_or_else(|errors| panic!("the {tag} catalogue repeats a message: {errors:?}"));
    b
}

static CATALOGUE: LazyLock<Catalogue> = LazyLock::new(|| Catalogue {
    zh: bundle(
        unic_langid::langid!("zh-CN"),
        include_str!("locales/zh-CN.ftl"),
    ),
    en: bundle(unic_langid::langid!("en"), include_str!("locales/en.ftl")),
});

/// The message `id` in `lang` with `args`; `None` when the catalogue has no such message.
fn say(lang: Lang, id: &str, args: &[(&str, String)]) -> Option<String> {
    let b = match lang {
        Lang::Zh => &CATALOGUE.zh,
        Lang::En => &CATALOGUE.en,
    };
    let pattern = b.get_message(id)?.value()?;
    let mut fa = FluentArgs::new();
    for (k, v) in args {
        fa.set(*k, v.clone());
    }
    let mut errors = Vec::new();
    let text = b.format_pattern(pattern, Some(&fa), &mut errors);
    errors.is_empty().then(|| text.into_owned())
}

/// "未办理" / "Not done".
pub(crate) fn not_done(lang: Lang) -> String {
    say(lang, "not-done", &[]).unwrap_or_else(|| "未办理".into())
}

/// A refused or failed call as a sentence for people: the refusal's code and subjects
/// from the status's `ErrorInfo`, names from `plan` when the page has one; an input the
/// API's checks refused names its field. Anything else says its gRPC code.
pub(crate) fn refusal(status: &tonic::Status, plan: Option<&Plan>, lang: Lang) -> String {
    let details = status.get_error_details();
    if let Some(info) = details.error_info() {
        let args: Vec<(&str, String)> = info
            .metadata
            .iter()
            .map(|(k, v)| (k.as_str(), name(k, v, plan, lang)))
            .collect();
        if let Some(text) = say(lang, &format!("refusal-{}", info.reason), &args) {
            return text;
        }
    }
    if let Some(bad) = details.bad_request() {
        if let Some(v) = bad.field_violations.first() {
            let field = field_name(&v.field, plan, lang);
            if let Some(text) = say(lang, "bad-input", &[("field", field)]) {
                return text;
            }
        }
    }
    let code = super::error::code_name(status.code())
        .to_lowercase()
        .replace('_', "-");
    say(lang, "refusal-unknown", &[("code", code.clone())]).unwrap_or(code)
}

/// A subject as people call it: an item, a department or a document by its name in the
/// workflow, a state, an action, a status or a kind of reference in the reader's words.
fn name(key: &str, value: &str, plan: Option<&Plan>, lang: Lang) -> String {
    let in_plan = |f: &dyn Fn(&Plan) -> Option<String>| plan.and_then(f);
    match key {
        "item" | "to" if plan.is_some_and(|p| p.items.iter().any(|i| i.id == value)) => {
            in_plan(&|p| Some(super::page::item_name(p, value))).unwrap_or_else(|| value.into())
        }
        "owner" => in_plan(&|p| Some(super::page::department_name(p, value)))
            .unwrap_or_else(|| value.into()),
        "document" => in_plan(&|p| {
            p.documents
                .iter()
                .find(|d| d.id == value)
                .map(|d| d.name.clone())
        })
        .unwrap_or_else(|| value.into()),
        "state" => match lang {
            Lang::Zh => state_zh(value).into(),
            Lang::En => value.replace('_', " "),
        },
        "action" => word(lang, value, ACTIONS).unwrap_or_else(|| match lang {
            Lang::Zh => "办理此项操作".into(),
            Lang::En => value.into(),
        }),
        "status" => word(lang, value, STATUSES).unwrap_or_else(|| value.into()),
        "kind" => word(lang, value, KINDS).unwrap_or_else(|| value.into()),
        "actor" => actor(value, lang),
        _ => value.into(),
    }
}

/// A message field as people call it (`reason` → 理由), the field itself when unknown.
fn field_name(field: &str, plan: Option<&Plan>, lang: Lang) -> String {
    let base = field.split(['.', '[']).next().unwrap_or(field);
    if let Some(w) = word(lang, base, FIELDS) {
        return w;
    }
    plan.and_then(|p| p.fields.iter().find(|f| f.id == base))
        .map_or_else(|| field.to_string(), |f| f.name.clone())
}

fn word(lang: Lang, key: &str, table: &[(&str, &str, &str)]) -> Option<String> {
    table
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, zh, en)| match lang {
            Lang::Zh => (*zh).to_string(),
            Lang::En => (*en).to_string(),
        })
}

/// The actions the engine names when a task's state forbids them.
const ACTIONS: &[(&str, &str, &str)] = &[
    ("claim", "签收", "be claimed"),
    ("approve", "准予许可", "be approved"),
    ("reject", "作出不予许可决定", "be rejected"),
    ("report", "登记完成", "be reported done"),
    ("resubmit", "重新申请", "be resubmitted"),
    ("return", "退回", "be returned"),
    ("sign", "签署意见", "be signed"),
];

/// A project's end, as in "项目已撤回".
const STATUSES: &[(&str, &str, &str)] = &[
    ("withdrawn", "撤回", "withdrawn"),
    ("completed", "办结", "completed"),
];

/// What an unknown reference was.
const KINDS: &[(&str, &str, &str)] = &[
    ("reviewer", "审查人员", "reviewer"),
    ("material", "材料", "material"),
    ("item", "事项", "item"),
    ("document", "文书", "document"),
    ("agent", "代办员", "agent"),
    ("special procedure", "特别程序", "special procedure"),
];

/// The fields of the verbs' messages and the submission.
const FIELDS: &[(&str, &str, &str)] = &[
    ("reason", "理由或意见", "reason or opinion"),
    ("note", "说明", "note"),
    ("to", "接办人或退回事项", "to"),
    ("reviewer", "加签人", "reviewer"),
    ("agent", "代办员", "agent"),
    ("needed", "所需材料", "materials needed"),
    ("materials", "材料", "materials"),
    ("numbers", "文号", "document numbers"),
    ("project", "项目编号", "project number"),
    ("item", "事项", "item"),
    ("applicant", "申请人", "applicant"),
    ("request_id", "表单", "form"),
    ("form", "表单", "form"),
    ("site", "用地红线", "site"),
    ("body", "表单", "form"),
];

/// A task state in Chinese: the Chinese half of the console's one name for it.
fn state_zh(state: &str) -> &'static str {
    let name = super::page::state_name(state);
    name.split(' ').next().unwrap_or(name)
}

/// An actor as people call it (`agent:li` → 代办员 li).
fn actor(id: &str, lang: Lang) -> String {
    let (role, who) = id.split_once(':').unwrap_or((id, ""));
    let (zh, en) = match role {
        "window" => ("综合窗口", "the window"),
        "agent" => ("代办员", "agent"),
        "department" => ("部门", "department"),
        "supervisor" => ("监察人员", "the supervisor"),
        "system" => ("系统", "the system"),
        _ => return id.to_string(),
    };
    let r = match lang {
        Lang::Zh => zh,
        Lang::En => en,
    };
    if who.is_empty() {
        r.to_string()
    } else {
        format!("{r} {who}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every message of one catalogue is in the other, with no variable the other lacks
    /// a use for (a translator who drops a message is caught here, not by a reader).
    #[test]
    fn both_catalogues_say_the_same_messages() {
        let ids = |text: &str| -> Vec<String> {
            text.lines()
                .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
                .filter_map(|l| l.split_once(" = ").map(|(k, _)| k.to_string()))
                .collect()
        };
        let zh = ids(include_str!("locales/zh-CN.ftl"));
        let en = ids(include_str!("locales/en.ftl"));
        assert_eq!(zh, en);
        for id in &zh {
            assert!(
                CATALOGUE.zh.has_message(id) && CATALOGUE.en.has_message(id),
                "{id}"
            );
        }
    }

    /// A refusal with its subjects reads as a Chinese sentence with the names.
    #[test]
    fn a_refusal_is_a_sentence_with_names() {
        use onewindow_engine::{Refusal, TaskState};
        let r = Refusal::IllegalTransition {
            item: "I01".into(),
            state: TaskState::Claimed,
            action: "claim".into(),
        };
        let s = crate::status::refusal_status(&r);
        assert_eq!(
            refusal(&s, None, Lang::Zh),
            "「I01」当前为「办理中」，不能签收。"
        );
        assert_eq!(
            refusal(&s, None, Lang::En),
            "“I01” is “claimed”: it cannot be claimed."
        );
        let s = crate::status::refusal_status(&Refusal::ReasonRequired);
        assert_eq!(refusal(&s, None, Lang::Zh), "请填写理由或意见。");
        let s = crate::status::invalid_argument("to: not an id");
        assert_eq!(
            refusal(&s, None, Lang::Zh),
            "「接办人或退回事项」填写有误，请检查后重新提交。"
        );
    }
}
