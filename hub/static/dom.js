/**
 * A tiny DOM builder. Every string child becomes a text node and every attribute is set with
 * setAttribute, so text from messages is always shown as text, never parsed as HTML.
 */

/**
 * Build an element.
 * @param {string} tag
 * @param {Record<string, unknown>} [props] attributes; `class`; `on` (event handlers); boolean
 *   properties `hidden`, `disabled`, `checked`, `selected`, `required`; `value` as a property.
 * @param {...(Node|string|number|null|undefined|false|Array)} children
 * @returns {HTMLElement}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    setProp(el, name, value);
  }
  append(el, children);
  return el;
}

const PROPERTIES = new Set(["hidden", "disabled", "checked", "selected", "required", "value"]);

function setProp(el, name, value) {
  if (value === null || value === undefined || value === false) {
    if (PROPERTIES.has(name)) el[name] = name === "value" ? "" : false;
    return;
  }
  if (name === "on") {
    for (const [event, handler] of Object.entries(value)) el.addEventListener(event, handler);
  } else if (PROPERTIES.has(name)) {
    el[name] = value;
  } else {
    el.setAttribute(name, value === true ? "" : String(value));
  }
}

/** Append children (strings as text nodes; null/false skipped; arrays flattened). */
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replace all children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** A label that screen readers read and sighted users do not see. */
export function hiddenText(text) {
  return h("span", { class: "visually-hidden" }, text);
}
