//! ComfyUI's `prompt` PNG text: the API graph that was run, a JSON object of nodes
//! (`{"3": {"class_type": "KSampler", "inputs": {"seed": 5, "positive": ["6", 0], …}}, …}`), where an
//! input is a value or a link `["node id", output slot]`.
//!
//! The settings are the sampler node's (KSampler, KSamplerAdvanced, SamplerCustom or
//! SamplerCustomAdvanced, with the nodes its `sampler`, `sigmas`, `noise` and `guider` link to),
//! the prompt is the text of the node its `positive` input leads to (through FluxGuidance, which
//! gives Flux's guidance, and ControlNetApply nodes, which give the control's strength and end),
//! and the size is the empty latent's. Links are followed with a bound and a record of the nodes
//! seen: a loop or an endless chain is an error, never a hang.

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::reading::Reading;
use super::{ImportError, MAX_JSON};
use crate::api::fields::Field;

/// The sampler nodes read, in order of preference when a graph has several of one pass.
const SAMPLERS: [&str; 4] = [
    "KSampler",
    "KSamplerAdvanced",
    "SamplerCustom",
    "SamplerCustomAdvanced",
];
/// The most nodes a chain of links is followed through.
const MAX_CHAIN: usize = 64;
/// The inputs through which conditioning is passed on, in the order tried.
const PASS_ON: [&str; 5] = [
    "conditioning",
    "positive",
    "conditioning_1",
    "conditioning_to",
    "base_conditioning",
];

/// One node of the graph.
#[derive(Clone, Copy)]
struct Node<'a> {
    id: &'a str,
    class: &'a str,
    inputs: &'a Map<String, Value>,
}

impl<'a> Node<'a> {
    fn input(&self, name: &str) -> Option<&'a Value> {
        self.inputs.get(name)
    }
}

struct Graph<'a> {
    nodes: &'a Map<String, Value>,
}

/// The target of a link `["id", slot]` (ComfyUI writes the id as a string; a number is accepted).
fn link(v: &Value) -> Option<String> {
    match v.as_array()?.as_slice() {
        [Value::String(id), slot] if slot.is_u64() => Some(id.clone()),
        [Value::Number(id), slot] if slot.is_u64() => Some(id.to_string()),
        _ => None,
    }
}

impl<'a> Graph<'a> {
    fn node(&self, id: &str) -> Result<Node<'a>, ImportError> {
        let (key, v) = self.nodes.get_key_value(id).ok_or_else(|| {
            shape(format!(
                "a link names node {id:?}, which is not in the graph"
            ))
        })?;
        let class = v
            .get("class_type")
            .and_then(Value::as_str)
            .ok_or_else(|| shape(format!("node {id:?} has no class_type")))?;
        let inputs = v
            .get("inputs")
            .and_then(Value::as_object)
            .ok_or_else(|| shape(format!("node {id:?} ({class}) has no inputs")))?;
        Ok(Node {
            id: key,
            class,
            inputs,
        })
    }

    /// The node an input links to, if it is a link.
    fn linked(&self, node: Node<'a>, input: &str) -> Result<Option<Node<'a>>, ImportError> {
        match node.input(input).and_then(link) {
            Some(id) => self.node(&id).map(Some),
            None => Ok(None),
        }
    }

    /// The value of `name` on `node`: a literal, or one found by following links to a node that
    /// holds it (under the same name or a primitive's `value`, `text`, `string`…). `Ok(None)`
    /// when the chain ends at a node that does not say (noted by the caller).
    fn value(&self, node: Node<'a>, name: &str) -> Result<Lookup<'a>, ImportError> {
        let mut seen = HashSet::new();
        let mut at = node;
        let mut key = name;
        for _ in 0..MAX_CHAIN {
            let Some(v) = at.input(key) else {
                return Ok(Lookup::Missing);
            };
            let Some(id) = link(v) else {
                return Ok(Lookup::Found(v));
            };
            if !seen.insert(id.clone()) {
                return Err(ImportError::Cycle { node: id });
            }
            let next = self.node(&id)?;
            let found = [
                name,
                "value",
                "seed",
                "noise_seed",
                "text",
                "string",
                "int",
                "float",
            ]
            .into_iter()
            .find(|k| next.inputs.contains_key(*k));
            match found {
                Some(k) => {
                    at = next;
                    key = k;
                }
                None => {
                    return Ok(Lookup::From {
                        id: next.id,
                        class: next.class,
                    });
                }
            }
        }
        Err(ImportError::TooDeep { max: MAX_CHAIN })
    }
}

/// What a value lookup found.
enum Lookup<'a> {
    Found(&'a Value),
    /// The input is a link to a node that does not hold the value (a custom node).
    From {
        id: &'a str,
        class: &'a str,
    },
    Missing,
}

fn shape(reason: String) -> ImportError {
    ImportError::Shape {
        what: "ComfyUI",
        reason,
    }
}

/// Reads ComfyUI's `prompt` text into settings, with notes on what was clamped or not used.
pub(crate) fn read(text: &str) -> Result<Reading, ImportError> {
    if text.len() > MAX_JSON {
        return Err(ImportError::TooLarge {
            what: "ComfyUI",
            bytes: text.len(),
            max: MAX_JSON,
        });
    }
    let v: Value = serde_json::from_str(text).map_err(|e| ImportError::Json {
        what: "ComfyUI",
        reason: e.to_string(),
    })?;
    let nodes = v
        .as_object()
        .ok_or_else(|| shape("the graph is not a JSON object of nodes".into()))?;
    let g = Graph { nodes };
    let mut r = Reading::new();
    let sampler = pick_sampler(&g, &mut r)?;
    read_sampler(&g, sampler, &mut r)?;
    note_models(&g, &mut r);
    Ok(r)
}

/// The sampler node whose settings are read: of several, the first (by node number) that starts
/// from an empty latent (the first pass, not a hires pass), else the first.
fn pick_sampler<'a>(g: &Graph<'a>, r: &mut Reading) -> Result<Node<'a>, ImportError> {
    let mut found: Vec<Node<'a>> = Vec::new();
    for id in g.nodes.keys() {
        // Nodes that are not nodes (ComfyUI writes none) are skipped here, not refused.
        if let Ok(n) = g.node(id)
            && SAMPLERS.contains(&n.class)
        {
            found.push(n);
        }
    }
    found.sort_by_key(|n| (n.id.parse::<u64>().unwrap_or(u64::MAX), n.id));
    let first_pass = found.iter().copied().find(
        |n| matches!(g.linked(*n, "latent_image"), Ok(Some(l)) if l.class.starts_with("Empty")),
    );
    let Some(pick) = first_pass.or_else(|| found.first().copied()) else {
        return Err(ImportError::NoSampler);
    };
    if found.len() > 1 {
        let ids: Vec<&str> = found.iter().map(|n| n.id).collect();
        r.note(format!(
            "the ComfyUI graph has {} sampler nodes ({}): the settings are node {}'s ({})",
            found.len(),
            ids.join(", "),
            pick.id,
            pick.class
        ));
    }
    Ok(pick)
}

/// Where each setting of the sampler is: the sampler itself, or the node one of its inputs
/// links to (SamplerCustom's `sampler` and `sigmas`, SamplerCustomAdvanced's `noise` and
/// `guider`).
struct Sources<'a> {
    seed: Option<(Node<'a>, &'static str)>,
    steps: Option<Node<'a>>,
    cfg: Option<Node<'a>>,
    sampler_name: Option<Node<'a>>,
    scheduler: Option<Node<'a>>,
    /// The node holding `positive`/`negative` (or a BasicGuider's `conditioning`).
    conditioning: Option<Node<'a>>,
}

fn sources<'a>(g: &Graph<'a>, s: Node<'a>) -> Result<Sources<'a>, ImportError> {
    Ok(match s.class {
        "KSampler" => Sources {
            seed: Some((s, "seed")),
            steps: Some(s),
            cfg: Some(s),
            sampler_name: Some(s),
            scheduler: Some(s),
            conditioning: Some(s),
        },
        "KSamplerAdvanced" => Sources {
            seed: Some((s, "noise_seed")),
            ..sources_of(s)
        },
        "SamplerCustom" => {
            let sigmas = g.linked(s, "sigmas")?;
            Sources {
                seed: Some((s, "noise_seed")),
                steps: sigmas,
                cfg: Some(s),
                sampler_name: g.linked(s, "sampler")?,
                scheduler: sigmas,
                conditioning: Some(s),
            }
        }
        _ => {
            let sigmas = g.linked(s, "sigmas")?;
            let guider = g.linked(s, "guider")?;
            Sources {
                seed: g.linked(s, "noise")?.map(|n| (n, "noise_seed")),
                steps: sigmas,
                cfg: guider,
                sampler_name: g.linked(s, "sampler")?,
                scheduler: sigmas,
                conditioning: guider,
            }
        }
    })
}

fn sources_of(s: Node<'_>) -> Sources<'_> {
    Sources {
        seed: None,
        steps: Some(s),
        cfg: Some(s),
        sampler_name: Some(s),
        scheduler: Some(s),
        conditioning: Some(s),
    }
}

fn read_sampler<'a>(g: &Graph<'a>, s: Node<'a>, r: &mut Reading) -> Result<(), ImportError> {
    let src = sources(g, s)?;
    if let Some((n, name)) = src.seed
        && let Some(v) = literal(g, n, name, r)?
    {
        r.json_number(Field::Seed, name, v);
    }
    if let Some(v) = opt_literal(g, src.steps, "steps", r)? {
        r.json_number(Field::Steps, "steps", v);
    }
    if let Some(v) = opt_literal(g, src.sampler_name, "sampler_name", r)? {
        match v.as_str() {
            Some(name) => r.sampler("sampler_name", name),
            None => r.unused("sampler_name", &v.to_string()),
        }
    }
    if let Some(v) = opt_literal(g, src.scheduler, "scheduler", r)? {
        match v.as_str() {
            Some(name) => r.scheduler("scheduler", name),
            None => r.unused("scheduler", &v.to_string()),
        }
    }
    let mut flux_guidance = None;
    if let Some(c) = src.conditioning {
        let positive = if c.inputs.contains_key("positive") {
            "positive"
        } else {
            "conditioning"
        };
        let walked = walk(g, c, positive, true, r)?;
        flux_guidance = walked.guidance;
        match walked.text {
            Some(t) => r.p.prompt = t.trim().to_owned(),
            None => {
                r.note("the ComfyUI graph's positive prompt was not found: the prompt is empty")
            }
        }
        if c.inputs.contains_key("negative")
            && let Some(t) = walk(g, c, "negative", false, r)?.text
        {
            r.negative(&t);
        }
    }
    // Flux's guidance is the FluxGuidance node's (its KSampler's cfg is then 1); else the cfg.
    match flux_guidance {
        Some(v) => r.json_number(Field::Guidance, "FluxGuidance guidance", v),
        None => {
            if let Some(v) = opt_literal(g, src.cfg, "cfg", r)? {
                r.json_number(Field::Guidance, "cfg", v);
            }
        }
    }
    read_latent(g, s, r)?;
    if let Some(d) = s.input("denoise").and_then(Value::as_f64)
        && d < 1.0
    {
        r.unused("denoise", &d.to_string());
    }
    Ok(())
}

/// The literal value of `name` on `node`, following links; a value from a node that does not say
/// is noted.
fn literal<'a>(
    g: &Graph<'a>,
    node: Node<'a>,
    name: &str,
    r: &mut Reading,
) -> Result<Option<&'a Value>, ImportError> {
    Ok(match g.value(node, name)? {
        Lookup::Found(v) => Some(v),
        Lookup::From { id, class } => {
            r.note(format!(
                "the {name} comes from ComfyUI node {id} ({class}), which does not say its value: not read"
            ));
            None
        }
        Lookup::Missing => None,
    })
}

fn opt_literal<'a>(
    g: &Graph<'a>,
    node: Option<Node<'a>>,
    name: &str,
    r: &mut Reading,
) -> Result<Option<&'a Value>, ImportError> {
    match node {
        Some(n) => literal(g, n, name, r),
        None => Ok(None),
    }
}

/// What walking a conditioning input found.
#[derive(Default)]
struct Walked<'a> {
    text: Option<String>,
    guidance: Option<&'a Value>,
}

/// Follows the conditioning from `start`'s `input` to the text encoder, picking up Flux's guidance
/// and (on the positive side) the ControlNet applied on the way.
fn walk<'a>(
    g: &Graph<'a>,
    start: Node<'a>,
    input: &str,
    positive: bool,
    r: &mut Reading,
) -> Result<Walked<'a>, ImportError> {
    let mut out = Walked::default();
    let mut seen: HashSet<&str> = HashSet::new();
    let mut controls = 0usize;
    let Some(mut at) = g.linked(start, input)? else {
        return Ok(out);
    };
    for _ in 0..MAX_CHAIN {
        if !seen.insert(at.id) {
            return Err(ImportError::Cycle {
                node: at.id.to_owned(),
            });
        }
        if let Some(text) = encoded_text(g, at, r)? {
            if out.guidance.is_none() && at.class == "CLIPTextEncodeFlux" {
                out.guidance = at.input("guidance").filter(|v| link(v).is_none());
            }
            out.text = Some(text);
            return Ok(out);
        }
        match at.class {
            "FluxGuidance" if out.guidance.is_none() => {
                out.guidance = literal(g, at, "guidance", r)?;
            }
            c if c.starts_with("ControlNetApply") && positive => {
                controls += 1;
                if controls == 1 {
                    read_control(g, at, r)?;
                } else {
                    r.note(format!(
                        "the ComfyUI graph applies more than one ControlNet: only the one nearest the sampler is used (node {} is not)",
                        at.id
                    ));
                }
            }
            _ => {}
        }
        let next_input = if positive { "positive" } else { "negative" };
        let next = if at.class.starts_with("ControlNetApply") && at.inputs.contains_key(next_input)
        {
            g.linked(at, next_input)?
        } else {
            let pass = PASS_ON
                .into_iter()
                .find(|k| at.input(k).and_then(link).is_some());
            match pass {
                Some(k) => g.linked(at, k)?,
                None => None,
            }
        };
        match next {
            Some(n) => at = n,
            None => {
                if positive {
                    r.note(format!(
                        "the prompt leads to ComfyUI node {} ({}), which holds no text this reader knows",
                        at.id, at.class
                    ));
                }
                return Ok(out);
            }
        }
    }
    Err(ImportError::TooDeep { max: MAX_CHAIN })
}

/// The prompt text of a text-encoding node: `text` (CLIPTextEncode), `t5xxl` or `clip_l`
/// (CLIPTextEncodeFlux), `text_g` (SDXL); `None` for a node that encodes none.
fn encoded_text<'a>(
    g: &Graph<'a>,
    n: Node<'a>,
    r: &mut Reading,
) -> Result<Option<String>, ImportError> {
    for key in ["text", "t5xxl", "clip_l", "text_g"] {
        if !n.inputs.contains_key(key) {
            continue;
        }
        if let Some(Value::String(s)) = literal(g, n, key, r)?
            && (!s.trim().is_empty() || key == "text")
        {
            return Ok(Some(s.clone()));
        }
    }
    Ok(None)
}

/// A ControlNetApply(Advanced) node: strength, start and end, and the control type from its
/// ControlNet's model name (or a union ControlNet's type).
fn read_control<'a>(g: &Graph<'a>, n: Node<'a>, r: &mut Reading) -> Result<(), ImportError> {
    if let Some(v) = literal(g, n, "strength", r)? {
        r.json_number(Field::CnStrength, "ControlNet strength", v);
    }
    if let Some(v) = literal(g, n, "end_percent", r)? {
        r.json_number(Field::CnStop, "ControlNet end_percent", v);
    }
    if let Some(v) = literal(g, n, "start_percent", r)?
        && v.as_f64().is_some_and(|s| s > 0.0)
    {
        r.note(format!(
            "ControlNet start_percent {v} is not used: the service's control acts from the first step"
        ));
    }

    let mut names: Vec<String> = Vec::new();
    let mut at = g.linked(n, "control_net")?;
    let mut seen = HashSet::new();
    while let Some(c) = at {
        if !seen.insert(c.id) {
            return Err(ImportError::Cycle {
                node: c.id.to_owned(),
            });
        }
        if seen.len() > MAX_CHAIN {
            return Err(ImportError::TooDeep { max: MAX_CHAIN });
        }
        for key in ["type", "control_net_name"] {
            if let Some(Value::String(s)) = c.input(key) {
                names.push(s.clone());
            }
        }
        at = g.linked(c, "control_net")?;
    }
    // A union ControlNet's chosen type says more than its model's name, and comes first.
    if !names.iter().any(|name| r.cn_type_from(name)) && !names.is_empty() {
        let shown: Vec<&str> = names.iter().map(String::as_str).collect();
        r.unknown_control(&shown);
    }
    Ok(())
}

/// The size of the empty latent the sampler starts from (an image-to-image latent says none).
fn read_latent<'a>(g: &Graph<'a>, s: Node<'a>, r: &mut Reading) -> Result<(), ImportError> {
    let Some(l) = g.linked(s, "latent_image")? else {
        return Ok(());
    };
    let w = literal(g, l, "width", r)?.and_then(Value::as_i64);
    let h = literal(g, l, "height", r)?.and_then(Value::as_i64);
    if let (Some(w), Some(h)) = (w, h) {
        r.size("latent", w, h);
    }
    Ok(())
}

/// Notes the checkpoints, diffusion models and LoRAs the graph loads (none is used here).
fn note_models(g: &Graph<'_>, r: &mut Reading) {
    let mut ids: Vec<&String> = g.nodes.keys().collect();
    ids.sort_by_key(|id| (id.parse::<u64>().unwrap_or(u64::MAX), id.as_str()));
    for id in ids {
        let Ok(n) = g.node(id) else { continue };
        for (key, what) in [
            ("ckpt_name", "checkpoint"),
            ("unet_name", "diffusion model"),
            ("lora_name", "LoRA"),
        ] {
            if let Some(Value::String(name)) = n.input(key) {
                r.model(what, name);
            }
        }
    }
}
