//! A letter as a MeMo message (Digitaliseringsstyrelsen's message format for Digital Post,
//! version 1.1, the last with a published schema: `tests/data/memo/`), and the outbox entry
//! that carries it to SF1601 (issue 30). The sender is the kommune's CVR; the recipient a
//! CVR (a private institution) or CPR; the letter's text is the main document, a UTF-8
//! text file. Elements are in the schema's order and always carry the `memo:` prefix
//! (Serviceplatformen is reported to require it).

use base64::Engine as _;
use jiff::Timestamp;
use modtag_config::digital_post::DigitalPost;
use modtag_storage::records::{DigitalPostLetter, DigitalPostTo, Item, OutboxEntry};
use modtag_storage::store::IdSource;
use modtag_storage::StoreError;

use crate::compose::PlainTo;

pub const NAMESPACE: &str = "https://DigitalPost.dk/MeMo-1";

/// A version 4 UUID, as MeMo's `messageUUID` must be.
pub fn uuid_v4() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The MeMo message for `to`, from `dp`'s sender, labelled `label` (at most 256
/// characters, as the schema allows).
pub fn message(
    dp: &DigitalPost,
    to: &DigitalPostTo,
    recipient_label: &str,
    now: Timestamp,
) -> String {
    let label: String = to.subject.chars().take(256).collect();
    let content = base64::engine::general_purpose::STANDARD.encode(to.text.as_bytes());
    format!(
        "<memo:Message xmlns:memo=\"{NAMESPACE}\" memoVersion=\"1.1\" memoSchVersion=\"1.1.0\">\
         <memo:MessageHeader>\
         <memo:messageType>DIGITALPOST</memo:messageType>\
         <memo:messageUUID>{uuid}</memo:messageUUID>\
         <memo:label>{label}</memo:label>\
         <memo:mandatory>false</memo:mandatory>\
         <memo:legalNotification>false</memo:legalNotification>\
         <memo:Sender><memo:senderID>{sender}</memo:senderID><memo:idType>CVR</memo:idType>\
         <memo:label>{sender_label}</memo:label></memo:Sender>\
         <memo:Recipient><memo:recipientID>{id}</memo:recipientID>\
         <memo:idType>{id_type}</memo:idType><memo:label>{recipient_label}</memo:label>\
         </memo:Recipient>\
         </memo:MessageHeader>\
         <memo:MessageBody>\
         <memo:createdDateTime>{created}</memo:createdDateTime>\
         <memo:MainDocument><memo:File>\
         <memo:encodingFormat>text/plain</memo:encodingFormat>\
         <memo:filename>Brev.txt</memo:filename>\
         <memo:language>da</memo:language>\
         <memo:content>{content}</memo:content>\
         </memo:File></memo:MainDocument>\
         </memo:MessageBody></memo:Message>",
        uuid = to.message_uuid,
        label = escape(&label),
        sender = escape(&dp.sender_cvr),
        sender_label = escape(&dp.sender_label),
        id = escape(&to.id),
        id_type = escape(&to.id_type),
        recipient_label = escape(recipient_label),
        created = now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
}

/// An outbox entry of a letter about `item` to `cvr`'s Digital Post, recorded on the item
/// as waiting; `to` is the person whose address a mail goes to instead if Digital Post
/// refuses the letter for good (empty: none).
#[allow(clippy::too_many_arguments)]
pub fn entry(
    ids: &dyn IdSource,
    dp: &DigitalPost,
    item: &mut Item,
    to: PlainTo,
    (cvr, institution): (&str, &str),
    subject: &str,
    text: &str,
    now: Timestamp,
) -> Result<OutboxEntry, StoreError> {
    let id = ids.next_id()?;
    let letter = DigitalPostTo {
        id_type: "CVR".into(),
        id: cvr.to_string(),
        message_uuid: uuid_v4(),
        subject: subject.to_string(),
        text: text.to_string(),
    };
    let message = message(dp, &letter, institution, now);
    let to = (to.role, to.person, to.email);
    let mut entry = OutboxEntry::new(id, &item.reference, to, message, now);
    entry.digital_post = Some(letter);
    item.letters.push(queued(&entry, now));
    Ok(entry)
}

/// The letter `entry` carries, as its intake records it: queued.
fn queued(entry: &OutboxEntry, now: Timestamp) -> DigitalPostLetter {
    let letter = entry.digital_post.as_ref().expect("a Digital Post entry");
    DigitalPostLetter {
        outbox_id: entry.id,
        id_type: letter.id_type.clone(),
        id: letter.id.clone(),
        message_uuid: letter.message_uuid.clone(),
        queued: now,
        sent: None,
        failed: None,
        by_mail: false,
        received: None,
        delivered: None,
    }
}

/// Text for XML element content.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    #[test]
    fn uuids_are_version_4() {
        for _ in 0..100 {
            let u = super::uuid_v4();
            let parts: Vec<&str> = u.split('-').collect();
            assert_eq!(
                parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
                [8, 4, 4, 4, 12]
            );
            assert!(parts[2].starts_with('4'), "{u}");
            assert!("89ab".contains(&parts[3][..1]), "{u}");
        }
    }
}
