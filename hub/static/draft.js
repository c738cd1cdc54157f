/**
 * The pending draft of the open conversation: Approve, Edit (then approve the edited text),
 * Reject (with an optional reason) and Regenerate with a tone or the owner's own instruction
 * ("custom"). The panel keeps its mode and the
 * text being edited while the thread around it reloads, as long as the draft is the same one.
 */

import { h, fill } from "./dom.js";
import { percent } from "./format.js";
import { badge } from "./list.js";
import { toneBadge } from "./badges.js";

export const TONES = [
  ["", "Same tone"],
  ["more_formal", "More formal"],
  ["more_casual", "More casual"],
  ["shorter", "Shorter"],
  ["add_humor", "Add humour"],
  ["custom", "Custom instruction…"],
];
export const CUSTOM_TONE = "custom";

/** Enough rows for the text being edited, within reason. */
function editRows(text) {
  return Math.min(12, Math.max(3, text.split("\n").length + 1));
}

const RETRY_FOCUS = { view: "button.primary", edit: "#draft-edit", reject: "#reject-reason" };

/** The text a draft would send now: the owner's edit if there is one, else the suggestion. */
export function draftText(suggestion) {
  return suggestion.edited_body || suggestion.suggested_body || "";
}

export class DraftPanel {
  /**
   * @param {{approve: Function, reject: Function, regenerate: Function}} actions each takes
   *   (suggestion, value) and returns a promise; a rejection's message is shown in the panel.
   */
  constructor(actions) {
    this.actions = actions;
    this.suggestion = null;
    this.mode = "view";
    this.text = "";
    this.reason = "";
    this.tone = "";
    this.instruction = "";
    this.busy = "";
    this.error = "";
    this.element = h("section", { class: "draft", "aria-labelledby": "draft-heading", hidden: true });
  }

  /**
   * Show `suggestion` (null hides the panel). Returns the text the owner was editing when a new
   * draft replaces the one being edited, so the caller can keep it; else "". (Not while the
   * edit is being sent: then the draft goes away because it was approved.)
   */
  update(suggestion) {
    const same = suggestion && this.suggestion && suggestion.id === this.suggestion.id;
    const replaced = suggestion && !same && this.mode === "edit" && !this.busy;
    const lost = replaced && this.text !== draftText(this.suggestion) ? this.text : "";
    if (!same) Object.assign(this, { mode: "view", text: "", reason: "", busy: "", error: "" });
    const changed = !same || draftText(suggestion) !== draftText(this.suggestion);
    this.suggestion = suggestion;
    if (changed) this.render();
    return lost;
  }

  render(focus) {
    const s = this.suggestion;
    this.element.hidden = !s;
    if (!s) return fill(this.element);
    fill(this.element, this.heading(s), this.body(s), this.reasoning(s),
      this.error ? h("p", { class: "error", role: "alert" }, this.error) : null,
      this.busy ? h("p", { class: "busy", role: "status" }, this.busy) : null,
      this.controls());
    this.element.setAttribute("aria-busy", this.busy ? "true" : "false");
    if (focus) this.element.querySelector(focus)?.focus();
  }

  heading(s) {
    const confidence = percent(s.confidence_score);
    return h("div", { class: "draft-head" },
      h("h3", { id: "draft-heading" }, "Suggested reply"),
      confidence ? h("span", { class: "badge badge-confidence", title: "The model's confidence in this draft" },
        `${confidence} confident`) : null,
      badge(toneBadge(s.sentiment_analysis), "tone"));
  }

  body(s) {
    if (this.mode !== "edit") return h("p", { class: "draft-body" }, draftText(s));
    return h("div", { class: "field" },
      h("label", { for: "draft-edit" }, "Edit the reply"),
      h("textarea", { id: "draft-edit", rows: editRows(this.text), value: this.text, disabled: Boolean(this.busy),
        "aria-describedby": "draft-edit-hint",
        on: { input: (e) => { this.text = e.target.value; }, keydown: (e) => this.editKeys(e) } }),
      h("p", { id: "draft-edit-hint", class: "hint key-hint" }, "Ctrl+Enter approves and sends; Escape cancels."));
  }

  reasoning(s) {
    if (!s.ai_reasoning && !(s.context_used || []).length) return null;
    return h("details", { class: "why" }, h("summary", {}, "Why this draft"),
      s.ai_reasoning ? h("p", {}, s.ai_reasoning) : null,
      (s.context_used || []).length ? h("ul", {}, s.context_used.map((c) => h("li", {}, String(c)))) : null);
  }

  controls() {
    if (this.mode === "edit") return this.editControls();
    if (this.mode === "reject") return this.rejectForm();
    const off = Boolean(this.busy);
    return h("div", { class: "actions" },
      h("button", { type: "button", class: "primary", disabled: off, on: { click: () => this.approve() } }, "Approve and send"),
      h("button", { type: "button", class: "edit", disabled: off, on: { click: () => this.setMode("edit", "#draft-edit") } }, "Edit"),
      h("button", { type: "button", class: "reject", disabled: off, on: { click: () => this.setMode("reject", "#reject-reason") } }, "Reject"),
      this.regenerateControls(off));
  }

  regenerateControls(off) {
    return h("div", { class: "regenerate" },
      h("label", { for: "draft-tone" }, "Tone"),
      h("select", { id: "draft-tone", disabled: off, on: { change: (e) => this.setTone(e.target.value) } },
        TONES.map(([value, label]) => h("option", { value, selected: value === this.tone }, label))),
      this.tone === CUSTOM_TONE ? this.instructionField(off) : null,
      h("button", { type: "button", disabled: off, on: { click: () => this.regenerate() } }, "Regenerate"));
  }

  instructionField(off) {
    return h("span", { class: "instruction" },
      h("label", { for: "draft-instruction", class: "visually-hidden" }, "Instruction for the new draft"),
      h("input", { id: "draft-instruction", type: "text", maxlength: 1000, value: this.instruction, disabled: off,
        placeholder: "e.g. mention the Friday deadline",
        on: { input: (e) => { this.instruction = e.target.value; },
          keydown: (e) => { if (e.key === "Enter") { e.preventDefault(); this.regenerate(); } } } }));
  }

  setTone(value) {
    this.tone = value;
    this.render(value === CUSTOM_TONE ? "#draft-instruction" : "#draft-tone");
  }

  editControls() {
    const off = Boolean(this.busy);
    return h("div", { class: "actions" },
      h("button", { type: "button", class: "primary", disabled: off, on: { click: () => this.approve() } }, "Approve edited reply"),
      h("button", { type: "button", disabled: off, on: { click: () => this.setMode("view", "button.edit") } }, "Cancel"));
  }

  rejectForm() {
    const off = Boolean(this.busy);
    return h("form", { class: "reject-form", on: { submit: (e) => { e.preventDefault(); this.reject(); } } },
      h("label", { for: "reject-reason" }, "Why reject this draft? (optional)"),
      h("input", { id: "reject-reason", type: "text", maxlength: 2000, value: this.reason, disabled: off,
        on: { input: (e) => { this.reason = e.target.value; },
          keydown: (e) => { if (e.key === "Escape") this.setMode("view", "button.reject"); } } }),
      h("div", { class: "actions" },
        h("button", { type: "submit", class: "danger", disabled: off }, "Reject draft"),
        h("button", { type: "button", disabled: off, on: { click: () => this.setMode("view", "button.reject") } }, "Cancel")));
  }

  editKeys(event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      this.approve();
    } else if (event.key === "Escape") {
      this.setMode("view", "button.edit");
    }
  }

  setMode(mode, focus) {
    if (mode === "edit" && this.mode !== "edit") this.text = draftText(this.suggestion);
    this.mode = mode;
    this.error = "";
    this.render(focus);
    if (mode !== "view") this.element.querySelector(".actions")?.scrollIntoView({ block: "nearest" });
  }

  approve() {
    const edited = this.mode === "edit" && this.text.trim() && this.text !== draftText(this.suggestion) ? this.text : null;
    if (this.mode === "edit" && !this.text.trim()) {
      this.error = "The reply is empty. Write something or cancel the edit.";
      return this.render("#draft-edit");
    }
    return this.run("Sending…", () => this.actions.approve(this.suggestion, edited));
  }

  reject() {
    return this.run("Rejecting…", () => this.actions.reject(this.suggestion, this.reason.trim()));
  }

  /** What the new draft should change: {tone} or {customPrompt}. */
  regenerateChoice() {
    return this.tone === CUSTOM_TONE ? { customPrompt: this.instruction.trim() } : { tone: this.tone };
  }

  regenerate() {
    if (this.tone === CUSTOM_TONE && !this.instruction.trim()) {
      this.error = "Write the instruction for the new draft first.";
      return this.render("#draft-instruction");
    }
    const choice = this.regenerateChoice();
    return this.run("Drafting a new reply… this can take a minute.", () => this.actions.regenerate(this.suggestion, choice));
  }

  async run(label, action) {
    if (this.busy) return;
    const suggestion = this.suggestion;
    Object.assign(this, { busy: label, error: "" });
    this.render();
    try {
      await action();
    } catch (error) {
      if (this.suggestion === suggestion) this.error = error.message;
    }
    if (this.suggestion === suggestion) {
      this.busy = "";
      this.render(this.error ? RETRY_FOCUS[this.mode] : null);
    }
  }
}
