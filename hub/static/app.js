/**
 * The inbox page: sign in with an API key (kept in sessionStorage), the conversation list, the
 * open thread and its draft, and live updates from /ws. The open conversation is in the URL
 * hash (#/c/<id>), so the browser's back button returns to the list on a phone.
 */

import { ApiError, checkKey, createApi } from "./api.js";
import { latestAnalysis } from "./badges.js";
import { h, fill } from "./dom.js";
import { connectLive, socketProtocols, socketUrl } from "./live.js";
import { SECTIONS, enableRowKeys, renderList, rowButton, updateRowAnalysis } from "./list.js";
import { Seen } from "./seen.js";
import { ThreadView } from "./thread.js";

const KEY_STORAGE = "replydesk.apiKey";
const PAGE_SIZE = 25;
const MAX_PAGE_SIZE = 100;
const ANALYSIS_PARALLEL = 4;
const LIVE_LABELS = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…", offline: "Offline" };

const $ = (id) => document.getElementById(id);

class Inbox {
  constructor(key, onSignOut) {
    this.abort = new AbortController();
    this.api = createApi(key, () => onSignOut("The hub no longer accepts this API key. Sign in again."));
    this.key = key;
    this.sections = SECTIONS.map((s) => ({ ...s, items: [], total: 0, limit: PAGE_SIZE, error: "" }));
    this.search = "";
    this.showArchived = false;
    this.selectedId = null;
    this.analyses = new Map();
    this.analysisQueue = [];
    this.analysisRunning = 0;
    this.seen = new Seen(window.localStorage);
    this.list = $("list");
    this.thread = new ThreadView($("thread"), this.threadActions());
  }

  start() {
    this.listen();
    enableRowKeys(this.list);
    this.live = connectLive({
      url: socketUrl(), protocols: socketProtocols(this.key),
      onEvent: (e) => this.onEvent(e), onState: (s) => this.liveState(s),
    });
    this.refreshList();
    this.refreshStats();
    this.route();
  }

  stop() {
    this.abort.abort();
    if (this.live) this.live.close();
    clearTimeout(this.refreshTimer);
    clearTimeout(this.noticeTimer);
    this.thread.clear();
    fill(this.list);
    fill($("stats"));
    fill($("notice"));
    this.liveState("offline");
    $("search").value = "";
    $("show-archived").checked = false;
  }

  get stopped() {
    return this.abort.signal.aborted;
  }

  listen() {
    const options = { signal: this.abort.signal };
    window.addEventListener("hashchange", () => this.route(), options);
    $("search-form").addEventListener("submit", (e) => { e.preventDefault(); this.setSearch($("search").value); }, options);
    $("search").addEventListener("input", (e) => { if (!e.target.value) this.setSearch(""); }, options);
    $("show-archived").addEventListener("change", (e) => { this.showArchived = e.target.checked; this.refreshList(); }, options);
  }

  // ----- the list -----

  visibleSections() {
    return this.sections.filter((s) => !s.optional || this.showArchived);
  }

  async refreshList() {
    const request = (this.listRequest = (this.listRequest || 0) + 1);
    const sections = this.visibleSections();
    const pages = await Promise.all(sections.map((s) => this.loadSection(s)));
    if (this.stopped || request !== this.listRequest) return; // a newer refresh is on its way
    sections.forEach((section, i) => Object.assign(section, pages[i], { maxed: section.limit >= MAX_PAGE_SIZE }));
    this.renderList();
    sections.forEach((s) => s.items.forEach((c) => this.queueAnalysis(c)));
  }

  async loadSection(section) {
    try {
      const page = await this.api.list({ status: section.status, search: this.search, page_size: section.limit });
      return { items: page.conversations, total: page.total, error: "" };
    } catch (error) {
      return { error: `Could not load: ${error.message}` };
    }
  }

  renderList() {
    renderList(this.list, {
      sections: this.visibleSections(), selectedId: this.selectedId,
      isUnread: (c) => c.id !== this.selectedId && this.seen.isUnread(c),
      analysisFor: (c) => this.cachedAnalysis(c),
    }, { open: (id) => this.navigate(id), more: (status) => this.more(status) });
  }

  scheduleRefresh() {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => { this.refreshList(); this.refreshStats(); }, 150);
  }

  setSearch(value) {
    this.search = value.trim();
    this.refreshList();
  }

  more(status) {
    const section = this.sections.find((s) => s.status === status);
    section.limit = Math.min(MAX_PAGE_SIZE, section.limit + PAGE_SIZE);
    this.refreshList();
  }

  async refreshStats() {
    try {
      const stats = await this.api.stats();
      if (!this.stopped) renderStats($("stats"), stats);
    } catch {
      fill($("stats"));
    }
  }

  // ----- priority and risk: the stored analysis of the latest inbound message -----

  cachedAnalysis(conversation) {
    const entry = this.analyses.get(conversation.id);
    return entry && entry.stamp === conversation.last_message_at ? entry.analysis : null;
  }

  queueAnalysis(conversation) {
    const entry = this.analyses.get(conversation.id);
    if (entry && entry.stamp === conversation.last_message_at) return;
    this.analyses.set(conversation.id, { stamp: conversation.last_message_at, analysis: null });
    this.analysisQueue.push(conversation);
    this.drainAnalyses();
  }

  drainAnalyses() {
    while (this.analysisRunning < ANALYSIS_PARALLEL && this.analysisQueue.length) {
      const conversation = this.analysisQueue.shift();
      this.analysisRunning += 1;
      this.fetchAnalysis(conversation.id, conversation.last_message_at)
        .then((analysis) => updateRowAnalysis(this.list, conversation.id, analysis))
        .finally(() => { this.analysisRunning -= 1; this.drainAnalyses(); });
    }
  }

  async fetchAnalysis(id, stamp) {
    try {
      const analysis = latestAnalysis((await this.api.recentMessages(id)).messages);
      this.analyses.set(id, { stamp, analysis });
      return analysis;
    } catch {
      return null; // the badges are extra; the row stays usable without them
    }
  }

  forgetAnalysis(id) {
    this.analyses.delete(id);
  }

  // ----- the open conversation -----

  navigate(id) {
    const target = `#/c/${id}`;
    if (window.location.hash === target) return this.route();
    this.pushedFromList = !window.location.hash;
    window.location.hash = target;
  }

  /** Back to the list: the browser's own back when the list is the page before. */
  back() {
    if (this.pushedFromList) return history.back();
    history.pushState(null, "", window.location.pathname);
    this.route();
  }

  route() {
    const match = /^#\/c\/(\d+)$/.exec(window.location.hash);
    if (match) this.open(Number(match[1]));
    else this.close();
  }

  async open(id) {
    const changed = id !== this.selectedId;
    this.selectedId = id;
    if (changed) this.thread.loading();
    document.body.dataset.view = "thread";
    this.markSelected();
    const shown = await this.reloadThread();
    if (shown && changed && window.matchMedia("(max-width: 759px)").matches) this.thread.focusHeading();
  }

  close() {
    const previous = this.selectedId;
    this.selectedId = null;
    document.body.dataset.view = "list";
    this.thread.clear();
    this.markSelected();
    if (previous !== null) rowButton(this.list, previous)?.focus();
  }

  markSelected() {
    for (const row of this.list.querySelectorAll("button.conv")) {
      if (Number(row.dataset.id) === this.selectedId) row.setAttribute("aria-current", "true");
      else row.removeAttribute("aria-current");
    }
  }

  async reloadThread() {
    const id = this.selectedId;
    if (id === null) return false;
    const request = (this.threadRequest = (this.threadRequest || 0) + 1);
    try {
      const [thread, recent] = await Promise.all([this.api.thread(id), this.api.recentMessages(id, 10)]);
      if (id !== this.selectedId || request !== this.threadRequest || this.stopped) return false;
      this.thread.show(thread, latestAnalysis(recent.messages));
      this.seen.mark(thread);
      rowButton(this.list, id)?.classList.remove("unread");
      return true;
    } catch (error) {
      if (id === this.selectedId) this.notify(`Could not open the conversation: ${error.message}`, true);
      return false;
    }
  }

  /** Run an action on the open conversation, then show the conversation as it is now. */
  async act(call, message) {
    try {
      const result = await call(this.selectedId);
      this.notify(message || result.message);
    } catch (error) {
      // Decided elsewhere, or gone: say why, and show what is true now.
      if (error.status === 400 || error.status === 404) this.notify(error.message, true);
      if (error.status >= 400 && error.status < 500) this.reloadThread();
      throw error;
    }
    await this.reloadThread();
    this.scheduleRefresh();
  }

  threadActions() {
    const api = this.api;
    return {
      approve: (s, edited) => this.act((id) => api.approve(id, s.id, edited)),
      reject: (s, reason) => this.act((id) => api.reject(id, s.id, reason), "Draft rejected."),
      regenerate: (s, choice) => this.act((id) => api.regenerate(id, s.reply_to_message_id, choice), "A new draft is ready."),
      reply: (text, key) => this.act((id) => api.reply(id, text, key)),
      archive: (reason) => this.act((id) => api.archive(id, reason), "Conversation archived."),
      back: () => this.back(),
      notify: (text, isError) => this.notify(text, isError),
    };
  }

  // ----- live events -----

  onEvent(event) {
    const open = event.conversation_id !== undefined && event.conversation_id === this.selectedId;
    switch (event.type) {
      case "connected":
        this.scheduleRefresh();
        this.reloadThread();
        break;
      case "conversation:new_reply":
        this.forgetAnalysis(event.conversation_id);
        this.scheduleRefresh();
        if (open) this.reloadThread();
        else this.notify(`New message from ${event.sender || "a contact"}`);
        break;
      case "conversation:ai_ready":
      case "conversation:sent":
        this.forgetAnalysis(event.conversation_id);
        this.scheduleRefresh();
        if (open && event.type === "conversation:sent") this.thread.showError("");
        if (open) this.reloadThread();
        break;
      case "conversation:error":
        this.scheduleRefresh();
        if (open) {
          this.thread.showError(event.error);
          this.reloadThread();
        } else {
          this.notify(`A reply could not be sent: ${event.error}`, true);
        }
        break;
      default:
        break;
    }
  }

  liveState(state) {
    if (this.stopped && state !== "offline") return;
    const el = $("live-status");
    el.dataset.state = state;
    el.textContent = LIVE_LABELS[state] || state;
  }

  notify(text, isError = false) {
    if (this.stopped) return;
    const el = $("notice");
    el.textContent = text;
    el.classList.toggle("error", isError);
    clearTimeout(this.noticeTimer);
    if (!isError) this.noticeTimer = setTimeout(() => { el.textContent = ""; }, 10000);
  }
}

function renderStats(dl, stats) {
  const pairs = [
    ["Needs reply", stats.needs_reply], ["Waiting", stats.waiting_for_response],
    ["Sent (7 days)", stats.emails_sent_week],
    ["Drafts approved (7 days)", stats.ai_suggestions_generated_week ? `${stats.ai_approval_rate_week}%` : "none yet"],
  ];
  fill(dl, pairs.map(([term, value]) => h("div", {}, h("dt", {}, term), h("dd", {}, String(value)))));
}

// ----- sign in and out -----

let inbox = null;

function showLogin(message = "") {
  $("app-view").hidden = true;
  $("login-view").hidden = false;
  $("login-error").textContent = message;
  $("api-key").value = "";
  $("api-key").setAttribute("aria-invalid", message ? "true" : "false");
  $("api-key").focus();
}

function startInbox(key) {
  $("login-view").hidden = true;
  $("app-view").hidden = false;
  inbox = new Inbox(key, signOut);
  inbox.start();
}

function signOut(message = "") {
  sessionStorage.removeItem(KEY_STORAGE);
  if (inbox) inbox.stop();
  inbox = null;
  if (window.location.hash) history.replaceState(null, "", window.location.pathname);
  showLogin(message);
}

function loginMessage(error) {
  if (error instanceof ApiError && error.status === 401) {
    return "The hub did not accept this API key (unknown or revoked). Check it and try again.";
  }
  return error.message || "Sign-in failed.";
}

async function signIn(event) {
  event.preventDefault();
  const key = $("api-key").value.trim();
  const button = event.target.querySelector("button[type=submit]");
  if (!key) return showLogin("Enter your API key.");
  button.disabled = true;
  button.textContent = "Checking…";
  try {
    await checkKey(key);
    sessionStorage.setItem(KEY_STORAGE, key);
    startInbox(key);
  } catch (error) {
    showLogin(loginMessage(error));
  } finally {
    button.disabled = false;
    button.textContent = "Sign in";
  }
}

function boot() {
  $("login-form").addEventListener("submit", signIn);
  $("logout").addEventListener("click", () => signOut("You are signed out."));
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (key) startInbox(key);
  else showLogin();
}

boot();
