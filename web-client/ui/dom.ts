// A tiny element builder, so views read as a tree of elements rather than as chains of
// createElement and appendChild calls.

type Child = Node | string | null | undefined | false;
type Attributes = Record<string, string | number | boolean | EventListener | undefined>;

/**
 * Makes an element: attributes whose names start with `on` become event listeners,
 * `true` makes a boolean attribute, `false` and undefined are left out.
 */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child);
  }
  return element;
}

/** Replaces the children of `parent`, putting focus back on the element with the same `data-focus-key`. */
export function replaceChildren(parent: Element, ...children: Node[]): void {
  const focused = document.activeElement;
  const key = parent.contains(focused) ? focused?.getAttribute('data-focus-key') : null;
  parent.replaceChildren(...children);
  if (key) (parent.querySelector(`[data-focus-key="${CSS.escape(key)}"]`) as HTMLElement | null)?.focus();
}
