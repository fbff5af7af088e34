//! What the others see of a peer's presence: the server writes the peer's real name (and
//! group) into every awareness state it relays, so nobody can appear as someone else.
//! Pure: JSON in, JSON out.

use serde_json::{Map, Value};

use crate::access::identity::Display;

/// The awareness state `json` with `user.name` and `user.group` set from `display`;
/// everything else (colour, cursor) stays the client's. A removal (`null`) stays a
/// removal; a state that is not a JSON object becomes one that only names the peer.
pub fn stamp(json: &str, display: &Display) -> String {
    let mut state = match serde_json::from_str::<Value>(json) {
        Ok(Value::Null) => return "null".to_owned(),
        Ok(Value::Object(state)) => state,
        _ => Map::new(),
    };
    let user = state
        .entry("user")
        .and_modify(|u| {
            if !u.is_object() {
                *u = Value::Object(Map::new());
            }
        })
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(user) = user {
        user.insert("name".into(), Value::String(display.name.clone()));
        match &display.group {
            Some(group) => user.insert("group".into(), Value::String(group.clone())),
            None => user.remove("group"),
        };
    }
    Value::Object(state).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anna() -> Display {
        Display {
            name: "Anna Krüger".into(),
            group: Some("Kita-Verbund Parchim".into()),
        }
    }

    fn parse(json: &str) -> Value {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_forged_name_is_replaced_and_the_rest_kept() {
        let forged = r##"{"user":{"name":"Landrat","color":"#1a5fb4","group":"Kreistag"},"cursor":{"anchor":1}}"##;
        assert_eq!(
            parse(&stamp(forged, &anna())),
            parse(
                r##"{"user":{"name":"Anna Krüger","color":"#1a5fb4","group":"Kita-Verbund Parchim"},"cursor":{"anchor":1}}"##
            )
        );
    }

    #[test]
    fn states_without_a_user_get_one_and_removals_stay() {
        let plain = Display {
            name: "Bernd".into(),
            group: None,
        };
        assert_eq!(
            parse(&stamp("{}", &plain)),
            parse(r#"{"user":{"name":"Bernd"}}"#)
        );
        assert_eq!(
            parse(&stamp(r#"{"user":"x"}"#, &plain)),
            parse(r#"{"user":{"name":"Bernd"}}"#)
        );
        assert_eq!(
            parse(&stamp(r#"{"user":{"group":"forged"}}"#, &plain)),
            parse(r#"{"user":{"name":"Bernd"}}"#)
        );
        assert_eq!(
            parse(&stamp("[1,2]", &plain)),
            parse(r#"{"user":{"name":"Bernd"}}"#)
        );
        assert_eq!(stamp("null", &plain), "null");
    }
}
