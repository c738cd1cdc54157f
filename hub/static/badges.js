/**
 * Priority, risk and tone badges from what the hub stored: the analysis of the latest inbound
 * message (seed 000 message list) and the pending draft's sentiment_analysis (seed 003). Pure.
 * Nothing is guessed: without an analysis there is no badge.
 *
 * A badge is {level: "high"|"medium"|"low"|"none", label: string, title: string}.
 */

const TRIAGE_PRIORITY = {
  urgent: ["high", "Urgent"],
  "time-sensitive": ["medium", "Time-sensitive"],
  routine: ["low", "Routine"],
  low: ["low", "Low priority"],
};

const URGENCY_LEVEL = { high: "High priority", medium: "Medium priority", low: "Low priority" };

const RISK_SIGNAL = 0.3;
const RISK_HIGH = 0.5;

/** The analysis of the newest inbound message (messages newest first), or null if it has none yet. */
export function latestAnalysis(messages) {
  const inbound = (messages || []).find((m) => m.direction === "incoming");
  const analysis = inbound && inbound.analysis;
  return analysis && typeof analysis === "object" ? analysis : null;
}

/** From the triage of the message, else from the draft's urgency level. */
export function priorityBadge(analysis, sentiment) {
  const triage = analysis && analysis.triage;
  const known = triage && TRIAGE_PRIORITY[triage.priority];
  if (known) {
    const when = triage.suggested_response_time ? `Reply ${triage.suggested_response_time}` : "";
    return { level: known[0], label: known[1], title: when };
  }
  const level = sentiment && sentiment.urgency_level;
  return URGENCY_LEVEL[level] ? { level, label: URGENCY_LEVEL[level], title: "" } : null;
}

function score(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

/** From the bad-actor scores; level "none" means the analysis found no risk signal. */
export function riskBadge(analysis) {
  const risk = analysis && analysis.risk;
  if (!risk || typeof risk !== "object") return null;
  const title = risk.recommendation || "";
  if (score(risk.scam_risk) >= RISK_HIGH) return { level: "high", label: "Likely scam", title };
  if (score(risk.freeloader_score) >= RISK_HIGH) return { level: "medium", label: "Freeloader risk", title };
  if (score(risk.time_waste_score) >= RISK_HIGH) return { level: "medium", label: "Time-waster risk", title };
  if (score(risk.combined_risk) >= RISK_SIGNAL) return { level: "low", label: "Some risk", title };
  return { level: "none", label: "Low risk", title };
}

/** The draft's reading of the message's tone, when it has one. */
export function toneBadge(sentiment) {
  const value = sentiment && sentiment.sentiment;
  if (value === "negative") return { level: "medium", label: "Negative tone", title: "" };
  if (value === "positive") return { level: "low", label: "Positive tone", title: "" };
  if (value === "neutral") return { level: "none", label: "Neutral tone", title: "" };
  return null;
}

/** When the analysis decided the message needs no reply, say so and why. */
export function noReplyBadge(analysis) {
  if (!analysis || analysis.needs_reply !== false) return null;
  return { level: "none", label: "No reply needed", title: (analysis.reasons || []).join("; ") };
}
