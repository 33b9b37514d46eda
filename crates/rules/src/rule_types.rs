//! Compiling a rule's `type:` and the section that configures it.
//!
//! `type:` may be left out: a rule with one type section (`threshold:`,
//! `spike:`, ...) is of that type, and a rule with none is `any`, as in
//! format v1. When `type:` is written, its section must be there and no
//! other type's section may be.

use std::collections::BTreeMap;

use serde_saphyr::Spanned;

use crate::compile::{Compiler, Problems, compile_threshold, non_empty_items, positive_duration};
use crate::condition::Condition;
use crate::limits::{MAX_COUNT, MAX_THRESHOLD_COUNT, MAX_TOGETHER_STEPS};
use crate::rule::Kind;
use crate::syntax::{
    AbsenceSpec, CardinalitySpec, NewValueSpec, Place, RatioSpec, SequenceSpec, SpikeSpec,
    TextList, ThresholdSpec, TogetherSpec, place,
};

/// The type-related keys of one rule, as written.
pub(crate) struct KindSpecs {
    pub kind: Option<Spanned<String>>,
    pub threshold: Option<Spanned<ThresholdSpec>>,
    pub spike: Option<Spanned<SpikeSpec>>,
    pub absence: Option<Spanned<AbsenceSpec>>,
    pub sequence: Option<Spanned<SequenceSpec>>,
    pub new_value: Option<Spanned<NewValueSpec>>,
    pub cardinality: Option<Spanned<CardinalitySpec>>,
    pub ratio: Option<Spanned<RatioSpec>>,
    pub together: Option<Spanned<TogetherSpec>>,
}

const TYPES: [&str; 9] = [
    "any",
    "threshold",
    "spike",
    "absence",
    "sequence",
    "together",
    "new_value",
    "cardinality",
    "ratio",
];

impl KindSpecs {
    /// The type sections given, by name, with their places.
    fn sections(&self) -> Vec<(&'static str, Place)> {
        let mut given = Vec::new();
        let mut note = |name, at: Option<Place>| {
            if let Some(at) = at {
                given.push((name, at));
            }
        };
        note("threshold", self.threshold.as_ref().map(place));
        note("spike", self.spike.as_ref().map(place));
        note("absence", self.absence.as_ref().map(place));
        note("sequence", self.sequence.as_ref().map(place));
        note("together", self.together.as_ref().map(place));
        note("new_value", self.new_value.as_ref().map(place));
        note("cardinality", self.cardinality.as_ref().map(place));
        note("ratio", self.ratio.as_ref().map(place));
        given
    }
}

impl Compiler {
    /// The rule's compiled type; `None` when it has a problem (reported).
    pub(crate) fn compile_kind(
        &mut self,
        specs: KindSpecs,
        group_by: &[String],
        source: &str,
        problems: &mut Problems<'_>,
    ) -> Option<Kind> {
        let sections = specs.sections();
        let name = match &specs.kind {
            Some(kind) => {
                let name = kind.value.trim();
                if !TYPES.contains(&name) {
                    problems.at(
                        place(kind),
                        format!("unknown rule type {name:?}: expected {}", TYPES.join(", ")),
                    );
                    return None;
                }
                let mut ok = true;
                for (section, at) in &sections {
                    if *section != name {
                        problems.at(
                            *at,
                            format!("{section}: does not apply to a rule of type {name}"),
                        );
                        ok = false;
                    }
                }
                if name != "any" && !sections.iter().any(|(section, _)| *section == name) {
                    problems.at(
                        place(kind),
                        format!("a rule of type {name} needs a {name}: section"),
                    );
                    ok = false;
                }
                if !ok {
                    return None;
                }
                name.to_owned()
            }
            None => match sections.as_slice() {
                [] => "any".to_owned(),
                [(only, _)] => (*only).to_owned(),
                [_, (second, at), ..] => {
                    problems.at(
                        *at,
                        format!("{second}: is a second rule type; a rule has one (set type:)"),
                    );
                    return None;
                }
            },
        };
        let KindSpecs {
            threshold,
            spike,
            absence,
            sequence,
            new_value,
            cardinality,
            ratio,
            together,
            ..
        } = specs;
        match name.as_str() {
            "threshold" => compile_threshold(threshold?, problems).map(Kind::Threshold),
            "spike" => compile_spike(spike?, problems),
            "absence" => compile_absence(absence?, group_by, source, problems),
            "sequence" => self.compile_sequence(sequence?, problems),
            "together" => self.compile_together(together?, problems),
            "new_value" => compile_new_value(new_value?, problems),
            "cardinality" => compile_cardinality(cardinality?, problems),
            "ratio" => self.compile_ratio(ratio?, problems),
            _ => Some(Kind::Any),
        }
    }

    fn compile_sequence(
        &mut self,
        spec: Spanned<SequenceSpec>,
        problems: &mut Problems<'_>,
    ) -> Option<Kind> {
        let at = place(&spec);
        let spec = spec.value;
        let first = required(spec.first.as_ref(), at, "sequence", "first", problems)
            .and_then(|first| self.compile_condition(first, problems));
        let then = required(spec.then.as_ref(), at, "sequence", "then", problems)
            .and_then(|then| self.compile_condition(then, problems));
        let within = required(spec.within.as_ref(), at, "sequence", "within", problems)
            .and_then(|within| positive_duration(within, "within", problems));
        let (first, then) = (first?, then?);
        Some(Kind::Sequence {
            steps: self.steps_hash(&[&first, &then]),
            first,
            then,
            within: within?,
        })
    }

    fn compile_together(
        &mut self,
        spec: Spanned<TogetherSpec>,
        problems: &mut Problems<'_>,
    ) -> Option<Kind> {
        let at = place(&spec);
        let spec = spec.value;
        let of = required(spec.of.as_ref(), at, "together", "of", problems).and_then(|of| {
            if of.value.len() < 2 || of.value.len() > MAX_TOGETHER_STEPS {
                problems.at(
                    place(of),
                    format!("together lists 2 to {MAX_TOGETHER_STEPS} conditions under of"),
                );
                return None;
            }
            let compiled: Vec<Option<Condition>> = of
                .value
                .iter()
                .map(|condition| self.compile_condition(condition, problems))
                .collect();
            compiled.into_iter().collect::<Option<Vec<_>>>()
        });
        let within = required(spec.within.as_ref(), at, "together", "within", problems)
            .and_then(|within| positive_duration(within, "within", problems));
        let of = of?;
        let steps = of.len() as u64;
        let needed = count(spec.count.as_ref(), steps, steps, "count", problems)?;
        Some(Kind::Together {
            steps: self.steps_hash(&of.iter().collect::<Vec<_>>()),
            of: of.into_boxed_slice(),
            count: usize::try_from(needed).unwrap_or(usize::MAX),
            within: within?,
        })
    }

    /// A hash (64-bit FNV-1a, stable across builds, as it is saved with
    /// the detector's state) of the canonical text of a rule's steps. The
    /// state of a sequence or together rule is which steps matched, so a
    /// reload that changes what a step matches must not keep it.
    fn steps_hash(&self, steps: &[&Condition]) -> u64 {
        let keyword = |id| self.patterns.keyword(id);
        let mut text = String::new();
        for step in steps {
            step.describe(&keyword, &mut text);
            text.push(';');
        }
        text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
    }

    fn compile_ratio(
        &mut self,
        spec: Spanned<RatioSpec>,
        problems: &mut Problems<'_>,
    ) -> Option<Kind> {
        let at = place(&spec);
        let spec = spec.value;
        let population = required(spec.of.as_ref(), at, "ratio", "of", problems)
            .and_then(|of| self.compile_condition(of, problems));
        let above =
            required(spec.above.as_ref(), at, "ratio", "above", problems).and_then(|above| {
                if (0.0..1.0).contains(&above.value) {
                    Some(above.value)
                } else {
                    problems.at(
                        place(above),
                        "ratio above must be at least 0 and below 1 (a share: 0.05 is 5%)",
                    );
                    None
                }
            });
        let window = required(spec.window.as_ref(), at, "ratio", "window", problems)
            .and_then(|window| positive_duration(window, "window", problems));
        let min_count = count(spec.min_count.as_ref(), 1, MAX_COUNT, "min_count", problems);
        Some(Kind::Ratio {
            population: population?,
            above: above?,
            window: window?,
            min_count: min_count?,
        })
    }
}

/// A key a section needs, with a problem at the section when it is missing.
fn required<'a, T>(
    value: Option<&'a Spanned<T>>,
    at: Place,
    section: &str,
    key: &str,
    problems: &mut Problems<'_>,
) -> Option<&'a Spanned<T>> {
    if value.is_none() {
        problems.at(at, format!("{section} has no {key}"));
    }
    value
}

/// An optional count between 1 and `max`, `default` when left out.
fn count(
    value: Option<&Spanned<u64>>,
    default: u64,
    max: u64,
    key: &str,
    problems: &mut Problems<'_>,
) -> Option<u64> {
    match value {
        None => Some(default),
        Some(count) if count.value == 0 || count.value > max => {
            problems.at(place(count), format!("{key} must be 1 to {max}"));
            None
        }
        Some(count) => Some(count.value),
    }
}

fn compile_spike(spec: Spanned<SpikeSpec>, problems: &mut Problems<'_>) -> Option<Kind> {
    let at = place(&spec);
    let spec = spec.value;
    let window = required(spec.window.as_ref(), at, "spike", "window", problems)
        .and_then(|window| positive_duration(window, "window", problems));
    let factor =
        required(spec.factor.as_ref(), at, "spike", "factor", problems).and_then(|factor| {
            if factor.value > 1.0 && factor.value.is_finite() {
                Some(factor.value)
            } else {
                problems.at(
                    place(factor),
                    "spike factor must be above 1 (3 means three times the baseline)",
                );
                None
            }
        });
    let min_count = count(spec.min_count.as_ref(), 1, MAX_COUNT, "min_count", problems);
    Some(Kind::Spike {
        window: window?,
        factor: factor?,
        min_count: min_count?,
    })
}

fn compile_absence(
    spec: Spanned<AbsenceSpec>,
    group_by: &[String],
    source: &str,
    problems: &mut Problems<'_>,
) -> Option<Kind> {
    let at = place(&spec);
    let spec = spec.value;
    let period = required(spec.period.as_ref(), at, "absence", "period", problems)
        .and_then(|period| positive_duration(period, "period", problems));
    let mut expect = Vec::new();
    let mut ok = true;
    for entry in spec.expect.unwrap_or_default() {
        let entry_place = place(&entry);
        let values: &BTreeMap<String, Spanned<TextList>> = &entry.value;
        if let Some(extra) = values.keys().find(|key| !group_by.contains(key)) {
            problems.at(
                entry_place,
                format!("expect names {extra}, which is not in group_by"),
            );
            ok = false;
            continue;
        }
        let mut group = Vec::with_capacity(group_by.len());
        for field in group_by {
            let Some(value) = values.get(field) else {
                problems.at(
                    entry_place,
                    format!("expect gives no {field}: give every group_by field"),
                );
                ok = false;
                break;
            };
            match non_empty_items(field, Some(value), source, problems).as_slice() {
                [(text, _)] => group.push(text.clone()),
                _ => {
                    problems.at(place(value), format!("expect gives one value for {field}"));
                    ok = false;
                }
            }
        }
        if group.len() == group_by.len() {
            expect.push(group);
        }
    }
    if ok && !expect.is_empty() && group_by.is_empty() {
        problems.at(at, "expect needs group_by: it lists groups by their values");
        ok = false;
    }
    let period = period?;
    ok.then_some(Kind::Absence { period, expect })
}

fn compile_new_value(spec: Spanned<NewValueSpec>, problems: &mut Problems<'_>) -> Option<Kind> {
    let at = place(&spec);
    let spec = spec.value;
    let field = required(spec.field.as_ref(), at, "new_value", "field", problems)
        .and_then(|field| field_name(field, problems));
    let learn = required(spec.learn.as_ref(), at, "new_value", "learn", problems)
        .and_then(|learn| positive_duration(learn, "learn", problems));
    Some(Kind::NewValue {
        field: field?,
        learn: learn?,
    })
}

fn compile_cardinality(
    spec: Spanned<CardinalitySpec>,
    problems: &mut Problems<'_>,
) -> Option<Kind> {
    let at = place(&spec);
    let spec = spec.value;
    let field = required(spec.field.as_ref(), at, "cardinality", "field", problems)
        .and_then(|field| field_name(field, problems));
    let distinct = required(spec.count.as_ref(), at, "cardinality", "count", problems)
        .and_then(|value| count(Some(value), 1, MAX_THRESHOLD_COUNT, "count", problems));
    let window = required(spec.window.as_ref(), at, "cardinality", "window", problems)
        .and_then(|window| positive_duration(window, "window", problems));
    Some(Kind::Cardinality {
        field: field?,
        count: distinct?,
        window: window?,
    })
}

fn field_name(field: &Spanned<String>, problems: &mut Problems<'_>) -> Option<String> {
    let name = field.value.trim();
    if name.is_empty() {
        problems.at(place(field), "empty field name");
        return None;
    }
    Some(name.to_owned())
}
