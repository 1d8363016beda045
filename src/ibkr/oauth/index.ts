/** OAuth 1.0a direct connection to IBKR's Web API (docs/oauth.md). */
export { OAuthSigner, LST_PATH, type OAuthCredentials, type LiveSessionToken } from './signer.ts';
export { OAuthError, type OAuthErrorCode } from './errors.ts';
export { loadOAuthCredentials, oauthFiles, accessTokenSecretFrom, OAUTH_ENV, type OAuthSettings } from './settings.ts';
export { generateOAuthKeys, OAUTH_FILES } from './keygen.ts';
export { loadDhParams, loadPrivateKey, parseDhParamsPem, dhParamsToPem, type DhParams } from './keys.ts';
