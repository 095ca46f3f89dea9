package auth

import (
	"encoding/base64"
	"encoding/json"
	"strings"
)

// verifiedClaims decodes and validates the claims of an HS256 token the
// early check verified (earlyCheck.check reported it): its header is one
// this server writes, byte for byte, and its HMAC matched, in constant
// time, under the key that header names. For such a token golang-jwt's
// ParseWithClaims would decode that same header to {alg: HS256, kid, typ:
// at+jwt}, which its method list and the key function accept with that
// very key, and verify that same HMAC again; what is left of its work is
// done here as it does it: the claims segment decoded with the strict
// base64 decoding, json.Unmarshal into the claims, and the parser's
// validator (the same options: issuer, audience, exp required, iat, leeway,
// clock, and wireClaims.Validate). So a verified token gets golang-jwt's
// verdict without its second HMAC and its header decoding
// (TestVerifiedClaimsAgreeWithParser, FuzzVerifiedClaims).
func (st *tokenState) verifiedClaims(token string, wc *wireClaims) rejection {
	_, rest, _ := strings.Cut(token, ".")
	seg, _, _ := strings.Cut(rest, ".")
	b, err := base64.RawURLEncoding.Strict().DecodeString(seg)
	if err != nil {
		return rejectMalformed
	}
	if err := json.Unmarshal(b, wc); err != nil {
		return rejectMalformed
	}
	if err := st.validator.Validate(wc); err != nil {
		return reasonFor(err)
	}
	return ""
}
