/**
 * What the owner has seen on this device: per conversation, the time of the last inbound message
 * when it was last opened. The hub keeps no read state, so "New" means "not opened here since
 * the contact last wrote".
 */

const STORAGE_KEY = "replydesk.seen";
const MAX_ENTRIES = 500;

function time(iso) {
  const value = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(value) ? null : value;
}

export class Seen {
  /** @param {Storage} storage */
  constructor(storage) {
    this.storage = storage;
    this.entries = this.load();
  }

  load() {
    try {
      const parsed = JSON.parse(this.storage.getItem(STORAGE_KEY) || "{}");
      return parsed && typeof parsed === "object" ? parsed : {};
    } catch {
      return {};
    }
  }

  /** A conversation that needs a reply and got a message since it was last opened here. */
  isUnread(conversation) {
    const inbound = time(conversation.last_inbound_at);
    if (conversation.status !== "needs_reply" || inbound === null) return false;
    const seen = time(this.entries[conversation.id]);
    return seen === null || seen < inbound;
  }

  /** Remember that `conversation` was opened with its current last inbound message. */
  mark(conversation) {
    if (!conversation.last_inbound_at) return;
    this.entries[conversation.id] = conversation.last_inbound_at;
    const ids = Object.keys(this.entries);
    if (ids.length > MAX_ENTRIES) ids.slice(0, ids.length - MAX_ENTRIES).forEach((id) => delete this.entries[id]);
    try {
      this.storage.setItem(STORAGE_KEY, JSON.stringify(this.entries));
    } catch {
      // storage full or disabled: unread marks then last for this page only
    }
  }
}
