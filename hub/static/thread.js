/**
 * The open conversation: header (contact, channel, status, priority and risk), the messages,
 * the pending draft and a free-text reply box. Parts are rebuilt only when what they show
 * changed, so a live update never takes away the focus or the text being typed.
 */

import { noReplyBadge, priorityBadge, riskBadge } from "./badges.js";
import { h, fill } from "./dom.js";
import { randomKey } from "./api.js";
import { DraftPanel } from "./draft.js";
import { channelLabel, contactName, fullTime, statusLabel, subjectLine } from "./format.js";
import { badge } from "./list.js";

function senderName(message) {
  if (message.direction !== "inbound") return "You";
  const sender = message.sender || {};
  return sender.name || sender.email || "Them";
}

function attachmentNames(message) {
  return (message.attachments || []).map((a) => (a && (a.name || a.kind)) || "attachment");
}

function messageItem(message) {
  const inbound = message.direction === "inbound";
  const files = attachmentNames(message);
  return h("li", { class: `msg ${inbound ? "msg-in" : "msg-out"}`, "data-id": message.id },
    h("p", { class: "msg-meta" },
      h("span", { class: "msg-sender" }, senderName(message)),
      inbound ? null : h("span", { class: "badge badge-sent" }, "Sent"),
      message.sent_at ? h("time", { datetime: message.sent_at }, fullTime(message.sent_at)) : null),
    h("p", { class: "msg-body" }, message.body_text || (files.length ? "" : "(no text)")),
    files.length ? h("ul", { class: "attachments", "aria-label": "Attachments" }, files.map((f) => h("li", {}, f))) : null);
}

/** What the header shows about the conversation, as plain data (compared to skip redraws). */
function headerFacts(thread, analysis) {
  const sentiment = (thread.pending_suggestions || []).at(-1)?.sentiment_analysis;
  return {
    name: contactName(thread), subject: subjectLine(thread), status: thread.status, channel: thread.channel,
    priority: priorityBadge(analysis, sentiment), risk: riskBadge(analysis), noReply: noReplyBadge(analysis),
    recommendation: (analysis && analysis.risk && analysis.risk.recommendation) || "",
  };
}

function headerBadges(facts) {
  return [
    h("span", { class: "badge badge-channel" }, channelLabel(facts.channel)),
    h("span", { class: `badge badge-status status-${facts.status}` }, statusLabel(facts.status)),
    badge(facts.priority, "priority"),
    badge(facts.risk, "risk"),
    badge(facts.noReply, "noreply"),
  ];
}

export class ThreadView {
  /**
   * @param {HTMLElement} container the thread pane
   * @param {{approve, reject, regenerate, reply, archive, back}} actions
   */
  constructor(container, actions) {
    this.container = container;
    this.actions = actions;
    this.id = null;
    this.signatures = {};
    this.archiving = false;
    this.draft = new DraftPanel(actions);
    this.empty = container.querySelector("#thread-empty");
  }

  /** Show that a conversation is on its way (never the previous one meanwhile). */
  loading() {
    this.clear();
    fill(this.container, h("p", { class: "empty muted", role: "status" }, "Loading the conversation…"));
  }

  /** Show the placeholder (nothing open). */
  clear() {
    this.id = null;
    this.signatures = {};
    fill(this.container, this.empty);
  }

  /** Show `thread` (seed 003 thread body) with the latest inbound analysis (or null). */
  show(thread, analysis) {
    this.current = { thread, analysis };
    if (thread.id !== this.id) this.build(thread.id);
    const facts = headerFacts(thread, analysis);
    this.part("head", [facts, this.archiving], () => this.renderHead(facts));
    this.part("messages", thread.messages.map((m) => [m.id, m.body_text]), () => this.renderMessages(thread));
    const lost = this.draft.update((thread.pending_suggestions || []).at(-1) || null);
    if (lost) this.keepInReplyBox(lost);
  }

  /** Show an error about this conversation (a failed send) until the next one replaces it. */
  showError(text) {
    if (!this.errorLine) return;
    fill(this.errorLine, text || "");
    this.errorLine.hidden = !text;
  }

  build(id) {
    this.id = id;
    this.signatures = {};
    this.archiving = false;
    this.archiveReason = "";
    this.draft.update(null);
    this.head = h("header", { class: "thread-head" });
    this.errorLine = h("p", { class: "error thread-error", role: "alert", hidden: true });
    this.messages = h("ol", { class: "messages", "aria-label": "Messages" });
    this.body = h("div", { class: "thread-body" }, this.errorLine, this.messages, this.draft.element);
    this.replyKey = randomKey();
    this.replyForm = this.buildReplyForm();
    fill(this.container, this.head, this.body, this.replyForm);
  }

  part(name, data, render) {
    const signature = JSON.stringify(data);
    if (this.signatures[name] === signature) return;
    this.signatures[name] = signature;
    render();
  }

  renderHead(facts) {
    fill(this.head,
      h("button", { type: "button", class: "back", on: { click: () => this.actions.back() } },
        h("span", { "aria-hidden": "true" }, "← "), "Conversations"),
      h("div", { class: "thread-title" },
        h("h2", { id: "thread-heading", tabindex: "-1" }, facts.name),
        facts.subject ? h("p", { class: "thread-subject" }, facts.subject) : null,
        h("p", { class: "badges" }, headerBadges(facts)),
        facts.recommendation ? h("p", { class: "risk-note" }, facts.recommendation) : null),
      facts.status === "archived" ? null : this.archiveControls());
  }

  archiveControls() {
    if (!this.archiving) {
      return h("button", { type: "button", class: "archive", on: { click: () => this.toggleArchive(true) } }, "Archive");
    }
    const input = h("input", { id: "archive-reason", type: "text", maxlength: 2000, value: this.archiveReason,
      on: { input: (e) => { this.archiveReason = e.target.value; } } });
    return h("form", { class: "archive-form", on: { submit: (e) => { e.preventDefault(); this.archive(input.value); } } },
      h("label", { for: "archive-reason" }, "Archive reason (optional)"), input,
      h("div", { class: "actions" },
        h("button", { type: "submit", class: "danger" }, "Archive conversation"),
        h("button", { type: "button", on: { click: () => this.toggleArchive(false) } }, "Cancel")));
  }

  toggleArchive(open) {
    this.archiving = open;
    this.archiveReason = "";
    delete this.signatures.head;
    this.show(this.current.thread, this.current.analysis);
    const target = this.head.querySelector(open ? "#archive-reason" : "button.archive");
    if (target) target.focus();
  }

  async archive(reason) {
    try {
      await this.actions.archive(reason);
      this.archiving = false;
    } catch (error) {
      this.actions.notify(error.message, true);
    }
  }

  renderMessages(thread) {
    const atBottom = this.body.scrollHeight - this.body.scrollTop - this.body.clientHeight < 40;
    const first = !this.messages.childElementCount;
    fill(this.messages, thread.messages.map(messageItem));
    if (first || atBottom) this.body.scrollTop = this.body.scrollHeight;
  }

  buildReplyForm() {
    const text = h("textarea", { id: "reply-text", rows: 2, maxlength: 50000, "aria-describedby": "reply-hint",
      on: { keydown: (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); form.requestSubmit(); } } } });
    const button = h("button", { type: "submit", class: "primary" }, "Send reply");
    const status = h("p", { class: "error", role: "alert" });
    const form = h("form", { class: "reply", on: { submit: (e) => { e.preventDefault(); this.sendReply(text, button, status); } } },
      h("label", { for: "reply-text" }, "Write your own reply"), text, status,
      h("div", { class: "reply-foot" },
        h("p", { id: "reply-hint", class: "hint" }, "Sending it replaces any pending draft.",
          h("span", { class: "key-hint" }, " Ctrl+Enter sends.")),
        button));
    return form;
  }

  async sendReply(text, button, status) {
    if (!text.value.trim()) {
      fill(status, "Write a reply first.");
      return text.focus();
    }
    fill(status);
    button.disabled = true;
    button.textContent = "Sending…";
    try {
      await this.actions.reply(text.value, this.replyKey);
      text.value = "";
      this.replyKey = randomKey();
    } catch (error) {
      fill(status, error.message);
      // Only when the hub may have received it (no answer) is a retry the same request.
      if (error.status !== 0) this.replyKey = randomKey();
    } finally {
      button.disabled = false;
      button.textContent = "Send reply";
    }
  }

  keepInReplyBox(lost) {
    const box = this.replyForm.querySelector("#reply-text");
    box.value = box.value.trim() ? `${box.value}\n\n${lost}` : lost;
    this.actions.notify("A new draft replaced the one you were editing; your edit was moved to the reply box.", false);
  }

  /** Move keyboard focus to the conversation's heading (used when it opens on a phone). */
  focusHeading() {
    this.container.querySelector("#thread-heading")?.focus();
  }
}
