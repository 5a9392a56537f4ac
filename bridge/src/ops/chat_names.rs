//! A chat found by the name a person typed: when there is none, the error (the same from the
//! CLI and the API) suggests the closest names, as git and cargo do for commands.

use crate::display::quoted;
use crate::error::Error;
use crate::store::{Chat, Store, StoreError};

/// The chat called `name`; when there is none, the error suggests the closest names.
pub fn find_chat(store: &Store, name: &str) -> Result<Chat, Error> {
    match store.chat(name) {
        Err(StoreError::NoSuchChat(_)) => {
            let names: Vec<String> = store.list_chats()?.into_iter().map(|chat| chat.name).collect();
            Err(Error::UnknownChat(no_such_chat(name, &names)))
        }
        other => Ok(other?),
    }
}

/// "no chat named X", with a "did you mean" for names a few edits away (or differing only in
/// case), else the list of chats.
fn no_such_chat(name: &str, known: &[String]) -> String {
    let lowered = name.to_lowercase();
    let mut close: Vec<(usize, &String)> = known
        .iter()
        .map(|candidate| (strsim::damerau_levenshtein(&lowered, &candidate.to_lowercase()), candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.chars().count() / 3).max(1))
        .collect();
    close.sort();
    let mut message = format!("no chat named {}", quoted(name));
    if !close.is_empty() {
        let names: Vec<String> = close.iter().take(3).map(|(_, candidate)| quoted(candidate)).collect();
        message.push_str(&format!("; did you mean {}?", names.join(" or ")));
    } else if known.is_empty() {
        message.push_str(" (there are no chats yet: `clm-bridge chat add NAME`)");
    } else {
        message.push_str(" (`clm-bridge chat list` shows them)");
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn unknown_chat_names_suggest_the_closest_ones() {
        let known = names(&["Family", "Work", "Football club"]);
        assert_eq!(no_such_chat("Famliy", &known), "no chat named \"Famliy\"; did you mean \"Family\"?");
        assert_eq!(no_such_chat("family", &known), "no chat named \"family\"; did you mean \"Family\"?");
        assert_eq!(no_such_chat("Wrok", &known), "no chat named \"Wrok\"; did you mean \"Work\"?");
        assert!(no_such_chat("Football clu", &known).ends_with("did you mean \"Football club\"?"));
    }

    #[test]
    fn far_names_list_nothing_but_the_way_to_see_the_chats() {
        let known = names(&["Family", "Work"]);
        assert_eq!(
            no_such_chat("Holidays", &known),
            "no chat named \"Holidays\" (`clm-bridge chat list` shows them)"
        );
        assert!(no_such_chat("X", &[]).contains("no chats yet"));
    }
}
