package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// MaxRefreshReuseGrace is the longest retry grace period of the refresh
// grant (REFRESH_REUSE_GRACE), as AWS Cognito's RetryGracePeriodSeconds.
const MaxRefreshReuseGrace = 60 * time.Second

// A retry within the grace period must be answered with the very pair the
// rotation answered, yet the store keeps refresh tokens only as digests.
// So the rotation also stores the successor sealed: encrypted and
// authenticated (AES-256-GCM) under a key derived (HKDF-SHA256) from the
// presented token, which the store never holds. Only whoever presents that
// token again can open it, and they are exactly who may have the answer; a
// copy of the database alone opens nothing. The access token is not stored:
// its jti, iat and exp are, and it is signed again with the same claims.

// successorInfo names the key of a sealed successor, apart from any other
// use of a refresh token.
const successorInfo = "gatehouse refresh successor v1"

// sealedSuccessor is the plaintext of a sealed successor.
type sealedSuccessor struct {
	Refresh   string `json:"r"` // the successor refresh token
	JTI       string `json:"j"` // the access token issued with it
	IssuedAt  int64  `json:"i"` // its iat, Unix milliseconds
	ExpiresAt int64  `json:"e"` // its exp, Unix seconds
}

// successorAEAD returns the cipher that seals the successor of presented.
func successorAEAD(presented string) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, []byte(presented), nil, successorInfo, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(block)
}

// sealSuccessor seals refresh and the access token identity id, to be
// opened only with presented.
func sealSuccessor(presented, refresh string, id accessID) ([]byte, error) {
	aead, err := successorAEAD(presented)
	if err != nil {
		return nil, err
	}
	plain, err := json.Marshal(sealedSuccessor{
		Refresh: refresh, JTI: id.jti, IssuedAt: id.iat.UnixMilli(), ExpiresAt: id.exp.Unix(),
	})
	if err != nil {
		return nil, err
	}
	return aead.Seal(nil, nil, plain, nil), nil
}

// openSuccessor opens what sealSuccessor sealed for presented.
func openSuccessor(presented string, sealed []byte) (refresh string, id accessID, err error) {
	aead, err := successorAEAD(presented)
	if err != nil {
		return "", accessID{}, err
	}
	plain, err := aead.Open(nil, nil, sealed, nil)
	if err != nil {
		return "", accessID{}, fmt.Errorf("auth: sealed successor does not open: %w", err)
	}
	var s sealedSuccessor
	if err := json.Unmarshal(plain, &s); err != nil {
		return "", accessID{}, fmt.Errorf("auth: sealed successor: %w", err)
	}
	if s.Refresh == "" || s.JTI == "" {
		return "", accessID{}, errors.New("auth: sealed successor is incomplete")
	}
	return s.Refresh, accessID{jti: s.JTI, iat: time.UnixMilli(s.IssuedAt), exp: time.Unix(s.ExpiresAt, 0)}, nil
}
