/**
 * What Tandem knows about the gateway's login page (the IBKR SSO page the Client Portal Gateway
 * serves). Taken from how ibeam drives the real page; see docs/auto-login.md for the sources and for
 * what is assumed. Kept in one place so a page change is a one-file fix.
 */

/** ibeam's login route; `/` redirects there on the real gateway. */
export const LOGIN_PATH = '/sso/Login?forwardTo=22&RL=1&ip2loc=on';

export const SELECTORS = {
  /** Username input: `username` since ~March 2023, `user_name` before. */
  username: 'input[name="username"], input[name="user_name"]',
  password: 'input[name="password"]',
  /** ibeam's historic submit selector, and the one newer ibeam versions use. */
  submit: '.btn.btn-lg.xyz-button-login, .btn.btn-lg.btn-primary[type="submit"]',
  /** Error box: new page, then old page. */
  error: '.xyz-errormessage, .alert.alert-danger.margin-top-10',
  /** Live/paper switch (added to the page in March 2025); the page starts in live mode. */
  paperToggleLabel: 'label[for=toggle1]',
  paperToggleInput: 'input#toggle1',
  /** Code-based second factor (authenticator app / SMS) and its input. */
  twoFactorBox: '#twofactbase',
  twoFactorInput: '#xyz-field-bronze-response',
  /** A select of second-factor methods some users get before the code box. */
  twoFactorSelect: '#twofactbase select, select#xyz-field-bronze-selector',
  /** Push-notification (IB Key / IBKR Mobile) second factor. */
  pushNotification: '.login-step-notification',
  /** "Try IB Key" promotion shown after login; skipping it leads to the success page. */
  ibKeyPromoSkip: '.ibkey-promo-skip',
} as const;

export const SUCCESS_TEXT = 'Client login succeeds';

/** The page's answer when paper credentials are submitted in live mode (ibeam #237, #240). */
export const LIVE_MODE_WITH_PAPER_USER = 'You have selected the Live Account Mode, but the specified user is a Paper Trading user';
