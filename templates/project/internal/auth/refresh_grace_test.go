package auth

import (
	"bytes"
	"testing"
	"time"
)

// Only the token it was sealed for opens a sealed successor, and the
// sealed bytes (what the store keeps) do not show the successor.
func TestSealedSuccessorOpensOnlyWithThePresentedToken(t *testing.T) {
	presented, _, err := newRefreshToken()
	if err != nil {
		t.Fatal(err)
	}
	successor, _, err := newRefreshToken()
	if err != nil {
		t.Fatal(err)
	}
	iat := time.Now().Truncate(time.Millisecond)
	id := accessID{jti: "J4K5", iat: iat, exp: iat.Add(15 * time.Minute).Truncate(time.Second)}
	sealed, err := sealSuccessor(presented, successor, id)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte(successor[len(RefreshTokenPrefix):])) || bytes.Contains(sealed, []byte(id.jti)) {
		t.Fatal("the sealed successor shows its content")
	}
	gotRefresh, gotID, err := openSuccessor(presented, sealed)
	if err != nil {
		t.Fatal(err)
	}
	if gotRefresh != successor || gotID.jti != id.jti || !gotID.iat.Equal(id.iat) || !gotID.exp.Equal(id.exp) {
		t.Errorf("opened %q %+v, want %q %+v", gotRefresh, gotID, successor, id)
	}

	other, _, _ := newRefreshToken()
	if _, _, err := openSuccessor(other, sealed); err == nil {
		t.Error("another token opened the sealed successor")
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	if _, _, err := openSuccessor(presented, tampered); err == nil {
		t.Error("a tampered sealed successor opened")
	}
	again, _ := sealSuccessor(presented, successor, id)
	if bytes.Equal(again, sealed) {
		t.Error("sealing twice gave the same bytes: the nonce is not random")
	}
}
