/**
 * Code that runs inside the login page. Kept as JavaScript text because the project compiles
 * without the DOM library; each script is a function expression called with one JSON argument.
 */

/** Returns which parts of the login flow are visible: { success, error, twoFactor, ... }. */
export const READ_STATE_SCRIPT = `({ sel, successText }) => {
  const visible = (selector) => {
    for (const el of document.querySelectorAll(selector)) {
      const style = window.getComputedStyle(el);
      if (el.getClientRects().length > 0 && style.visibility !== 'hidden' && style.display !== 'none') return el;
    }
    return null;
  };
  const errorEl = visible(sel.error);
  const errorText = errorEl && errorEl.textContent ? errorEl.textContent.replace(/\\s+/g, ' ').trim() : '';
  return {
    success: ((document.body && document.body.innerText) || '').includes(successText),
    error: errorText ? errorText : null,
    twoFactor: Boolean(visible(sel.twoFactorBox)),
    twoFactorSelect: Boolean(visible(sel.twoFactorSelect)),
    push: Boolean(visible(sel.pushNotification)),
    promo: Boolean(visible(sel.ibKeyPromoSkip)),
    loginForm: Boolean(visible(sel.username)),
  };
}`;

/**
 * Blanks every text input, replaces secrets in text and attributes, and returns everything the page
 * still holds (HTML, visible text, input values) so the caller can check it before a screenshot.
 */
export const BLANK_PAGE_SCRIPT = `(hide) => {
  for (const input of document.querySelectorAll('input, textarea')) {
    if (['checkbox', 'radio', 'submit', 'button', 'image', 'reset'].includes(input.type)) continue;
    input.value = '';
    input.setAttribute('value', '');
  }
  const walker = document.createTreeWalker(document.documentElement, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    let t = n.nodeValue || '';
    for (const s of hide) t = t.split(s).join('\\u2022\\u2022\\u2022');
    if (t !== n.nodeValue) n.nodeValue = t;
  }
  for (const el of document.querySelectorAll('*')) {
    for (const a of Array.from(el.attributes)) {
      if (hide.some((s) => a.value.includes(s))) el.setAttribute(a.name, '');
    }
  }
  const values = Array.from(document.querySelectorAll('input, textarea')).map((e) => e.value);
  return [document.documentElement.outerHTML, (document.body && document.body.innerText) || '', ...values].join('\\n');
}`;

/** Runs one of the scripts above with its argument. */
export function call(script: string, arg: unknown): string {
  return `(${script})(${JSON.stringify(arg)})`;
}
