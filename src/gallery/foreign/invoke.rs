//! InvokeAI's `invokeai_metadata` PNG text: a flat JSON object of the generation's settings
//! (`positive_prompt`, `seed`, `steps`, `cfg_scale`, `scheduler`, `width`, `height`, `model`,
//! `controlnets`, and `guidance` for FLUX), as its core-metadata node writes it.

use serde_json::{Map, Value};

use super::reading::Reading;
use super::{ImportError, MAX_JSON};
use crate::api::fields::Field;

/// Reads InvokeAI's metadata into settings, with notes on what was clamped or not used.
pub(crate) fn read(text: &str) -> Result<Reading, ImportError> {
    if text.len() > MAX_JSON {
        return Err(ImportError::TooLarge {
            what: "InvokeAI",
            bytes: text.len(),
            max: MAX_JSON,
        });
    }
    let v: Value = serde_json::from_str(text).map_err(|e| ImportError::Json {
        what: "InvokeAI",
        reason: e.to_string(),
    })?;
    let m = v.as_object().ok_or_else(|| ImportError::Shape {
        what: "InvokeAI",
        reason: "the metadata is not a JSON object".into(),
    })?;
    let mut r = Reading::new();
    match m.get("positive_prompt").and_then(Value::as_str) {
        Some(t) => r.p.prompt = t.trim().to_owned(),
        None => r.note("InvokeAI's metadata has no positive_prompt: the prompt is empty"),
    }
    if let Some(t) = m.get("negative_prompt").and_then(Value::as_str) {
        r.negative(t);
    }
    for (key, field) in [("seed", Field::Seed), ("steps", Field::Steps)] {
        if let Some(v) = m.get(key) {
            r.json_number(field, key, v);
        }
    }
    // FLUX's guidance when InvokeAI recorded it; else the classifier-free guidance scale.
    if let Some(v) = m.get("guidance") {
        r.json_number(Field::Guidance, "guidance", v);
    } else if let Some(v) = m.get("cfg_scale") {
        r.json_number(Field::Guidance, "cfg_scale", v);
    }
    if let Some(s) = m.get("scheduler").and_then(Value::as_str) {
        // InvokeAI's "scheduler" names the sampler (`euler_a`, `dpmpp_2m_k`: Karras sigmas).
        r.sampler("scheduler", s);
    }
    if let (Some(w), Some(h)) = (
        m.get("width").and_then(Value::as_i64),
        m.get("height").and_then(Value::as_i64),
    ) {
        r.size("image", w, h);
    }
    if let Some(name) = m.get("model").and_then(model_name) {
        r.model("model", name);
    }
    read_controlnets(m, &mut r);
    if let Some(loras) = m.get("loras").and_then(Value::as_array) {
        for l in loras {
            if let Some(name) = l
                .get("model")
                .or_else(|| l.get("lora"))
                .and_then(model_name)
            {
                r.model("LoRA", name);
            }
        }
    }
    Ok(r)
}

/// A model identifier's name (`{"name": …, "key": …}`), or a plain string.
fn model_name(v: &Value) -> Option<&str> {
    v.get("name")
        .or_else(|| v.get("model_name"))
        .and_then(Value::as_str)
        .or_else(|| v.as_str())
}

/// The first ControlNet: its model's name gives the control type, its weight the strength, its
/// end the stop. Others are noted.
fn read_controlnets(m: &Map<String, Value>, r: &mut Reading) {
    let Some(list) = m.get("controlnets").and_then(Value::as_array) else {
        return;
    };
    let Some(first) = list.first() else { return };
    if list.len() > 1 {
        r.note(format!(
            "InvokeAI used {} ControlNets: only the first is used",
            list.len()
        ));
    }
    if let Some(name) = first.get("control_model").and_then(model_name)
        && !r.cn_type_from(name)
    {
        r.unknown_control(&[name]);
    }
    match first.get("control_weight") {
        Some(Value::Array(per_step)) => {
            r.note("ControlNet control_weight is a list of weights: the first is used");
            if let Some(v) = per_step.first() {
                r.json_number(Field::CnStrength, "ControlNet control_weight", v);
            }
        }
        Some(v) => r.json_number(Field::CnStrength, "ControlNet control_weight", v),
        None => {}
    }
    if let Some(v) = first.get("end_step_percent") {
        r.json_number(Field::CnStop, "ControlNet end_step_percent", v);
    }
    if let Some(b) = first.get("begin_step_percent").and_then(Value::as_f64)
        && b > 0.0
    {
        r.note(format!(
            "ControlNet begin_step_percent {b} is not used: the service's control acts from the first step"
        ));
    }
}
