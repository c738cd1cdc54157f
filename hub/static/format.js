/** Pure formatting for the inbox: names, channels, statuses and times. */

const CHANNELS = {
  email: "Email", telegram: "Telegram", slack: "Slack", imessage: "iMessage",
  bluebubbles: "iMessage", twilio: "SMS", sms: "SMS", whatsapp: "WhatsApp",
};

const STATUSES = {
  needs_reply: "Needs reply", waiting: "Waiting", active: "Active", archived: "Archived",
};

/** The name to show for a conversation: the contact, else its subject or chat name. */
export function contactName(conversation) {
  return (conversation.lead && conversation.lead.name) || conversation.subject || "Unknown contact";
}

/** The subject line under the name, when it says something the name does not. */
export function subjectLine(conversation) {
  const subject = conversation.subject || "";
  return subject && subject !== contactName(conversation) ? subject : "";
}

export function channelLabel(channel) {
  if (!channel) return "";
  return CHANNELS[channel] || channel.charAt(0).toUpperCase() + channel.slice(1);
}

export function statusLabel(status) {
  return STATUSES[status] || status || "";
}

/** "now", "5 min", "3 h", "Yesterday", a weekday within the week, else a short date. */
export function relativeTime(iso, now = new Date()) {
  if (!iso) return "";
  const when = new Date(iso);
  const minutes = Math.round((now - when) / 60000);
  if (minutes < 1) return "now";
  if (minutes < 60) return `${minutes} min`;
  if (minutes < 12 * 60) return `${Math.round(minutes / 60)} h`;
  const days = dayNumber(now) - dayNumber(when);
  if (days === 0) return when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (days === 1) return "Yesterday";
  if (days < 7) return when.toLocaleDateString([], { weekday: "short" });
  return when.toLocaleDateString([], { day: "numeric", month: "short", year: sameYear(now, when) ? undefined : "numeric" });
}

function dayNumber(date) {
  return Math.floor((date.getTime() - date.getTimezoneOffset() * 60000) / 86400000);
}

function sameYear(a, b) {
  return a.getFullYear() === b.getFullYear();
}

/** The full local date and time, for a tooltip and screen readers. */
export function fullTime(iso) {
  return iso ? new Date(iso).toLocaleString([], { dateStyle: "medium", timeStyle: "short" }) : "";
}

/** A 0–1 score as a whole percentage, or "" when unknown. */
export function percent(value) {
  return typeof value === "number" && Number.isFinite(value) ? `${Math.round(value * 100)}%` : "";
}
