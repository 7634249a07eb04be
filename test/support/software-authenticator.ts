import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { isoCBOR } from '@simplewebauthn/server/helpers';

const FLAG_UP = 0x01;
const FLAG_UV = 0x04;
const FLAG_BE = 0x08;
const FLAG_BS = 0x10;
const FLAG_AT = 0x40;

const b64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');
const sha256 = (data: Uint8Array | string): Buffer => createHash('sha256').update(data).digest();

/** What a test may falsify in one ceremony (everything else is what an honest authenticator sends). */
export interface CeremonyOverrides {
  /** `clientDataJSON.origin` (default: the authenticator's origin). */
  readonly origin?: string;
  /** The RP ID whose hash goes into the authenticator data (default: the options' RP ID). */
  readonly rpId?: string;
  /** The UV flag (default: the authenticator's `userVerified`). */
  readonly userVerified?: boolean;
  /** `clientDataJSON.type` (default: webauthn.create / webauthn.get). */
  readonly type?: string;
  /** The challenge signed (default: the options'). */
  readonly challenge?: string;
  /** The signature counter sent (default: the credential's next value). */
  readonly counter?: number;
}

interface Credential {
  readonly id: Buffer;
  readonly privateKey: KeyObject;
  readonly userHandle: string;
  counter: number;
}

/**
 * A software WebAuthn authenticator (ES256, attestation `none`) for HTTP-level tests: it answers
 * the options the server generated the way a browser and a platform authenticator would, built
 * from node:crypto and @simplewebauthn's CBOR encoder, and lets a test falsify one field at a time.
 */
export class SoftwareAuthenticator {
  readonly credentials: Credential[] = [];
  /** Each assertion adds this to the counter (0: an authenticator that keeps no counter). */
  counterStep = 1;

  constructor(
    readonly origin: string,
    readonly userVerified = true,
  ) {}

  register(options: PublicKeyCredentialCreationOptionsJSON, overrides: CeremonyOverrides = {}): RegistrationResponseJSON {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const cose = new Map<number, number | Uint8Array>([
      [1, 2],
      [3, -7],
      [-1, 1],
      [-2, Buffer.from(jwk.x!, 'base64url')],
      [-3, Buffer.from(jwk.y!, 'base64url')],
    ]);
    const id = randomBytes(16);
    const credential: Credential = { id, privateKey, userHandle: options.user.id, counter: 0 };
    const idLength = Buffer.alloc(2);
    idLength.writeUInt16BE(id.length);
    const attested = Buffer.concat([Buffer.alloc(16), idLength, id, Buffer.from(isoCBOR.encode(cose))]);
    const authData = this.authenticatorData(overrides.rpId ?? options.rp.id!, FLAG_AT, overrides, 0, attested);
    const clientDataJSON = this.clientData(overrides.type ?? 'webauthn.create', overrides.challenge ?? options.challenge, overrides);
    const attestationObject = isoCBOR.encode(
      new Map<string, string | Uint8Array | Map<string, string>>([
        ['fmt', 'none'],
        ['attStmt', new Map<string, string>()],
        ['authData', authData],
      ]),
    );
    this.credentials.push(credential);
    return {
      id: b64url(id),
      rawId: b64url(id),
      type: 'public-key',
      response: { clientDataJSON: b64url(clientDataJSON), attestationObject: b64url(attestationObject), transports: ['internal'] },
      authenticatorAttachment: 'platform',
      clientExtensionResults: {},
    };
  }

  /** An assertion by the newest credential (or `credential`), as a discoverable one answers: with its user handle. */
  assert(options: PublicKeyCredentialRequestOptionsJSON, overrides: CeremonyOverrides = {}, credential = this.credentials.at(-1)): AuthenticationResponseJSON {
    if (credential === undefined) throw new Error('no credential registered on this authenticator');
    const counter = overrides.counter ?? credential.counter + this.counterStep;
    credential.counter = counter;
    const authData = this.authenticatorData(overrides.rpId ?? options.rpId!, 0, overrides, counter);
    const clientDataJSON = this.clientData(overrides.type ?? 'webauthn.get', overrides.challenge ?? options.challenge, overrides);
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), credential.privateKey);
    return {
      id: b64url(credential.id),
      rawId: b64url(credential.id),
      type: 'public-key',
      response: {
        clientDataJSON: b64url(clientDataJSON),
        authenticatorData: b64url(authData),
        signature: b64url(signature),
        userHandle: credential.userHandle,
      },
      authenticatorAttachment: 'platform',
      clientExtensionResults: {},
    };
  }

  private clientData(type: string, challenge: string, overrides: CeremonyOverrides): Buffer {
    return Buffer.from(JSON.stringify({ type, challenge, origin: overrides.origin ?? this.origin, crossOrigin: false }));
  }

  private authenticatorData(rpId: string, extraFlags: number, overrides: CeremonyOverrides, counter: number, attested = Buffer.alloc(0)): Buffer {
    const uv = overrides.userVerified ?? this.userVerified;
    const flags = FLAG_UP | (uv ? FLAG_UV : 0) | FLAG_BE | FLAG_BS | extraFlags;
    const count = Buffer.alloc(4);
    count.writeUInt32BE(counter);
    return Buffer.concat([sha256(rpId), Buffer.from([flags]), count, attested]);
  }
}
