package auth

import "math"

// minSecretBits is the least estimated entropy of an HS256 secret given in
// the configuration: 128 bits, the security strength NIST SP 800-57 asks of
// a MAC key today. 32 random bytes have 256; 32 random letters and digits
// about 190.
const minSecretBits = 128

// maxSecretBytesJudged bounds the work of secretBits: a secret longer than
// this is judged by its first bytes, which must then carry the entropy.
const maxSecretBytesJudged = 512

// secretBits estimates the entropy of a secret, in bits, the way a
// compressor would: each byte is worth log2 of the number of characters of
// the kinds the secret draws from (lower case, upper case, digits, other
// printable ASCII; any other byte makes it binary, 256), and a stretch of
// at least three bytes that repeats earlier ones ("passwordpassword") or
// runs in sequence ("abcd", "4321", "aaaa") is worth one byte. It cannot
// tell a random secret from a sentence, only refuse the patterns and
// placeholders people type; generated secrets pass with room to spare.
func secretBits(key []byte) float64 {
	key = key[:min(len(key), maxSecretBytesJudged)]
	perByte := math.Log2(float64(alphabetSize(key)))
	bits := 0.0
	for i := 0; i < len(key); {
		n := max(repeatLength(key, i), runLength(key, i))
		if n < 3 {
			n = 1
		}
		bits += perByte
		i += n
	}
	return bits
}

// alphabetSize is the number of characters of the kinds key uses.
func alphabetSize(key []byte) int {
	var lower, upper, digit, other bool
	for _, c := range key {
		switch {
		case 'a' <= c && c <= 'z':
			lower = true
		case 'A' <= c && c <= 'Z':
			upper = true
		case '0' <= c && c <= '9':
			digit = true
		case ' ' <= c && c <= '~':
			other = true
		default:
			return 256
		}
	}
	n := 0
	for _, k := range []struct {
		used bool
		size int
	}{{lower, 26}, {upper, 26}, {digit, 10}, {other, 33}} {
		if k.used {
			n += k.size
		}
	}
	return max(n, 2)
}

// repeatLength is the length of the longest match of key[i:] with a stretch
// starting earlier (which may overlap it, as in "aaaa").
func repeatLength(key []byte, i int) int {
	best := 0
	for j := range i {
		n := 0
		for i+n < len(key) && key[j+n] == key[i+n] {
			n++
		}
		best = max(best, n)
	}
	return best
}

// runLength is the length of the sequence starting at key[i] whose bytes
// step by the same -1, 0 or +1.
func runLength(key []byte, i int) int {
	if i+1 >= len(key) {
		return len(key) - i
	}
	step := int(key[i+1]) - int(key[i])
	if step < -1 || step > 1 {
		return 1
	}
	n := 2
	for i+n < len(key) && int(key[i+n])-int(key[i+n-1]) == step {
		n++
	}
	return n
}
