import { isoBase64URL } from '@simplewebauthn/server/helpers';

/**
 * The WebAuthn user handle of an account: its id's 16 bytes. Not personal data (WebAuthn §14.6.1
 * asks for none), stable across renames, and what a discoverable credential hands back at sign-in.
 */
export function userHandleOf(userId: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.from(userId.replaceAll('-', ''), 'hex'));
}

/** The handle as an assertion carries it (`response.userHandle`, base64url). */
export function encodedUserHandleOf(userId: string): string {
  return isoBase64URL.fromBuffer(userHandleOf(userId));
}
