/**
 * The conversation list: sections in the order the owner works through them (needs reply, then
 * waiting, then the rest), each row a button with contact, channel, badges and last-message time.
 * Arrow keys, Home and End move between rows.
 */

import { priorityBadge, riskBadge } from "./badges.js";
import { h, fill, hiddenText } from "./dom.js";
import { channelLabel, contactName, fullTime, relativeTime, subjectLine } from "./format.js";

export const SECTIONS = [
  { status: "needs_reply", title: "Needs reply", empty: "Nothing needs a reply." },
  { status: "waiting", title: "Waiting for them", empty: "Nobody owes you an answer." },
  { status: "active", title: "Other", empty: "No other conversations." },
  { status: "archived", title: "Archived", empty: "No archived conversations.", optional: true },
];

/** A badge element; `null` gives nothing. */
export function badge(value, kind) {
  if (!value) return null;
  return h("span", { class: `badge badge-${kind} level-${value.level}`, title: value.title || null }, value.label);
}

/** The analysis badges of one row (priority and risk; "Low risk" is left out of the list). */
export function analysisBadges(analysis) {
  const risk = riskBadge(analysis);
  return [badge(priorityBadge(analysis, null), "priority"), risk && risk.level !== "none" ? badge(risk, "risk") : null];
}

function timeElement(iso) {
  if (!iso) return null;
  return h("time", { datetime: iso, title: fullTime(iso) }, hiddenText("Last message "), relativeTime(iso));
}

function conversationRow(conversation, view, handlers) {
  const unread = view.isUnread(conversation);
  const selected = conversation.id === view.selectedId;
  const button = h("button", {
    type: "button", class: `conv${unread ? " unread" : ""}`, "data-id": conversation.id,
    "aria-current": selected ? "true" : null, on: { click: () => handlers.open(conversation.id) },
  },
  h("span", { class: "conv-top" },
    h("span", { class: "conv-name" }, contactName(conversation)),
    timeElement(conversation.last_message_at)),
  subjectLine(conversation) ? h("span", { class: "conv-subject" }, subjectLine(conversation)) : null,
  h("span", { class: "badges" },
    unread ? h("span", { class: "badge badge-unread" }, "New") : null,
    h("span", { class: "badge badge-channel" }, channelLabel(conversation.channel)),
    conversation.has_pending_suggestion ? h("span", { class: "badge badge-draft" }, "Draft ready") : null,
    h("span", { class: "analysis-badges" }, analysisBadges(view.analysisFor(conversation)))));
  return h("li", {}, button);
}

function sectionElement(section, view, handlers) {
  const headingId = `section-${section.status}`;
  const rows = section.items.map((c) => conversationRow(c, view, handlers));
  const left = section.total - section.items.length;
  let more = null;
  if (left > 0 && section.maxed) {
    more = h("p", { class: "muted empty-section" }, `${left} older not shown: search to find them.`);
  } else if (left > 0) {
    more = h("button", { type: "button", class: "more", on: { click: () => handlers.more(section.status) } },
      `Show more (${left} left)`);
  }
  return h("section", { class: "list-section", "aria-labelledby": headingId },
    h("h3", { id: headingId }, section.title, " ", h("span", { class: "count" }, `(${section.total})`)),
    section.error ? h("p", { class: "error" }, section.error) : null,
    rows.length ? h("ul", { class: "conv-list" }, rows) : h("p", { class: "muted empty-section" }, section.empty),
    more);
}

/**
 * Render the sections into `container`, keeping keyboard focus on the same conversation.
 * @param {HTMLElement} container
 * @param {{sections: object[], selectedId: number|null, isUnread: Function, analysisFor: Function}} view
 * @param {{open: (id: number) => void, more: (status: string) => void}} handlers
 */
export function renderList(container, view, handlers) {
  const focused = container.contains(document.activeElement) ? document.activeElement.dataset.id : null;
  fill(container, view.sections.map((s) => sectionElement(s, view, handlers)));
  container.setAttribute("aria-busy", "false");
  if (focused) {
    const again = rowButton(container, focused);
    if (again) again.focus();
  }
}

/** The row button of a conversation, if it is listed. */
export function rowButton(container, id) {
  return container.querySelector(`button.conv[data-id="${Number(id)}"]`);
}

/** Refresh the analysis badges of one row in place. */
export function updateRowAnalysis(container, id, analysis) {
  const row = rowButton(container, id);
  if (row) fill(row.querySelector(".analysis-badges"), analysisBadges(analysis));
}

/** Arrow keys, Home and End move between rows. */
export function enableRowKeys(container) {
  container.addEventListener("keydown", (event) => {
    if (!event.target.classList.contains("conv")) return;
    const rows = Array.from(container.querySelectorAll("button.conv"));
    const index = rows.indexOf(event.target);
    const next = { ArrowDown: index + 1, ArrowUp: index - 1, Home: 0, End: rows.length - 1 }[event.key];
    if (next === undefined || !rows[next]) return;
    event.preventDefault();
    rows[next].focus();
  });
}
