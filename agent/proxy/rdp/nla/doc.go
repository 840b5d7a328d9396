// Package nla is the client side of RDP Network Level Authentication:
// CredSSP (MS-CSSP) carrying NTLMv2 (MS-NLMP) over the TLS connection to
// an RDP server, written for the agent's RDP proxy.
//
// The exchange (Client.Authenticate):
//
//  1. TSRequest{version 6, negoTokens: NTLM NEGOTIATE_MESSAGE} →
//  2. ← TSRequest{negoTokens: CHALLENGE_MESSAGE}
//  3. TSRequest{negoTokens: AUTHENTICATE_MESSAGE (NTLMv2 response, MIC,
//     exchanged session key), pubKeyAuth: sealed binding of the
//     server's TLS public key (version ≥ 5: SHA-256 of "CredSSP
//     Client-To-Server Binding Hash\0", the client nonce and the key;
//     else the key itself), clientNonce} →
//  4. ← TSRequest{pubKeyAuth: the server's sealed answer (version ≥ 5:
//     SHA-256 of the server-to-client magic, the nonce and the key;
//     else the key with its first byte plus one)}, checked; or an
//     errorCode / a closed connection when the credentials are refused
//  5. TSRequest{authInfo: sealed TSCredentials{credType 1,
//     TSPasswordCreds{domain, user, password}}} →
//
// TSRequest and the credential structures are DER (X.690) with explicit
// context tags: TSRequest ::= SEQUENCE { version [0] INTEGER,
// negoTokens [1] SEQUENCE OF SEQUENCE { negoToken [0] OCTET STRING },
// authInfo [2] OCTET STRING, pubKeyAuth [3] OCTET STRING, errorCode [4]
// INTEGER, clientNonce [5] OCTET STRING } (all but version optional).
//
// Sealed messages are the 16-byte NTLM signature (version u32 = 1, the
// first 8 bytes of HMAC-MD5(signing key, seq u32 LE ‖ message) encrypted
// with the sealing RC4 stream, seq u32 LE) followed by the RC4-sealed
// message; keys are derived from the exported session key with the
// MS-NLMP magic constants (extended session security, 128-bit, key
// exchange).
package nla
