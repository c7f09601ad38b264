package tokenizer

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"unicode/utf8"
)

// SentencePiece piece types (ModelProto.SentencePiece.Type).
const (
	PieceNormal      = 1
	PieceUnknown     = 2
	PieceControl     = 3
	PieceUserDefined = 4
	PieceUnused      = 5
	PieceByte        = 6
)

// SentencePiece model types (TrainerSpec.ModelType).
const (
	SPMUnigram = 1
	SPMBPE     = 2
	SPMWord    = 3
	SPMChar    = 4
)

// maxSPMFile bounds a SentencePiece model read into memory; real ones are
// a few MiB (Llama's 0.5, mT5's 4.3).
const maxSPMFile = 256 << 20

// SentencePieceModel is what a SentencePiece .model file (its ModelProto,
// sentencepiece_model.proto) holds that a tokenizer is built from: the
// pieces, the trainer's model type and special ids, and the normalizer
// spec. Fields absent from the file take the proto's defaults.
type SentencePieceModel struct {
	Pieces []SentencePiece
	// ModelType is trainer_spec.model_type (SPMUnigram, SPMBPE, ...).
	ModelType int
	// VocabSize is trainer_spec.vocab_size as trained (informational).
	VocabSize int
	// ByteFallback is trainer_spec.byte_fallback: unknown characters
	// become <0xXX> byte pieces.
	ByteFallback bool
	// UnkID, BOSID, EOSID and PadID are trainer_spec's special ids (-1:
	// none); UnkPiece ... PadPiece their pieces.
	UnkID, BOSID, EOSID, PadID             int
	UnkPiece, BOSPiece, EOSPiece, PadPiece string
	// Normalizer is normalizer_spec.
	Normalizer SentencePieceNormalizer
}

// SentencePiece is one vocabulary entry, its id being its index.
type SentencePiece struct {
	Piece string
	Score float32
	// Type is one of PieceNormal ... PieceByte.
	Type int
}

// SentencePieceNormalizer is a model's normalizer_spec.
type SentencePieceNormalizer struct {
	// Name is the normalization rule's name (nmt_nfkc, identity, ...).
	Name string
	// PrecompiledCharsmap is the compiled rule (a darts-clone trie and
	// the replacement strings), empty for identity.
	PrecompiledCharsmap []byte
	// AddDummyPrefix, RemoveExtraWhitespaces and EscapeWhitespaces are
	// SentencePiece's own white-space handling (default true).
	AddDummyPrefix, RemoveExtraWhitespaces, EscapeWhitespaces bool
}

// ReadSentencePiece reads a SentencePiece model file.
func ReadSentencePiece(path string) (*SentencePieceModel, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sentencepiece: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("sentencepiece: %w", err)
	}
	if st.Size() > maxSPMFile {
		return nil, fmt.Errorf("sentencepiece: %s: %d bytes, more than the %d a model file may have", path, st.Size(), maxSPMFile)
	}
	data := make([]byte, st.Size())
	if _, err := readFull(f, data); err != nil {
		return nil, fmt.Errorf("sentencepiece: %s: %w", path, err)
	}
	return ParseSentencePiece(path, data)
}

// readFull reads len(b) bytes from f.
func readFull(f *os.File, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := f.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// ParseSentencePiece decodes a ModelProto in protobuf's wire format; name
// identifies it in errors, which say which field is malformed and at what
// byte offset. Unknown fields are skipped, as protobuf does.
func ParseSentencePiece(name string, data []byte) (*SentencePieceModel, error) {
	m := &SentencePieceModel{
		ModelType: SPMUnigram, VocabSize: 8000,
		UnkID: 0, BOSID: 1, EOSID: 2, PadID: -1,
		UnkPiece: "<unk>", BOSPiece: "<s>", EOSPiece: "</s>", PadPiece: "<pad>",
		Normalizer: SentencePieceNormalizer{AddDummyPrefix: true, RemoveExtraWhitespaces: true, EscapeWhitespaces: true},
	}
	fail := func(err error) (*SentencePieceModel, error) {
		return nil, fmt.Errorf("sentencepiece: %s: %w", name, err)
	}
	if hint := notAModel(data); hint != "" {
		return fail(errors.New(hint))
	}
	r := wire{b: data}
	for !r.done() {
		f, err := r.next("ModelProto")
		if err != nil {
			return fail(err)
		}
		switch f.num {
		case 1:
			field := fmt.Sprintf("pieces[%d]", len(m.Pieces))
			b, err := f.bytes(field)
			if err != nil {
				return fail(err)
			}
			p, err := parsePiece(field, f.at, b)
			if err != nil {
				return fail(err)
			}
			m.Pieces = append(m.Pieces, p)
		case 2:
			b, err := f.bytes("trainer_spec")
			if err != nil {
				return fail(err)
			}
			if err := parseTrainerSpec(m, f.at, b); err != nil {
				return fail(err)
			}
		case 3:
			b, err := f.bytes("normalizer_spec")
			if err != nil {
				return fail(err)
			}
			if err := parseNormalizerSpec(&m.Normalizer, f.at, b); err != nil {
				return fail(err)
			}
		}
	}
	if err := m.validate(); err != nil {
		return fail(err)
	}
	return m, nil
}

// notAModel recognizes files often found where a .model should be: a Git
// LFS pointer (the repository was cloned without LFS) and an HTML page (a
// download that got a login or error page).
func notAModel(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte("version https://git-lfs")):
		return "a Git LFS pointer, not the model itself: fetch its content (git lfs pull)"
	case bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("<")) && bytes.Contains(data[:min(len(data), 512)], []byte("html")):
		return "an HTML page, not a SentencePiece model"
	}
	return ""
}

// validate checks what the conversion relies on: pieces exist, the unknown
// piece is one of them, the model type is known. The other special ids are
// kept as read: SentencePiece and transformers take control pieces from
// the pieces' types.
func (m *SentencePieceModel) validate() error {
	if len(m.Pieces) == 0 {
		return errors.New("no pieces (field 1 of ModelProto)")
	}
	if m.ModelType < SPMUnigram || m.ModelType > SPMChar {
		return fmt.Errorf("trainer_spec.model_type %d is not one of 1 (unigram), 2 (bpe), 3 (word), 4 (char)", m.ModelType)
	}
	if m.UnkID >= len(m.Pieces) {
		return fmt.Errorf("trainer_spec.unk_id %d is outside the %d pieces", m.UnkID, len(m.Pieces))
	}
	if m.UnkID < 0 {
		return fmt.Errorf("trainer_spec.unk_id is %d: a model needs an unknown piece", m.UnkID)
	}
	return nil
}

// parsePiece decodes a ModelProto.SentencePiece.
func parsePiece(field string, base int, b []byte) (SentencePiece, error) {
	p := SentencePiece{Type: PieceNormal}
	r := wire{b: b, base: base}
	hasPiece := false
	for !r.done() {
		f, err := r.next(field)
		if err != nil {
			return p, err
		}
		switch f.num {
		case 1:
			s, err := f.str(field + ".piece")
			if err != nil {
				return p, err
			}
			p.Piece, hasPiece = s, true
		case 2:
			v, err := f.fixed32(field + ".score")
			if err != nil {
				return p, err
			}
			p.Score = math.Float32frombits(v)
		case 3:
			v, err := f.varint(field + ".type")
			if err != nil {
				return p, err
			}
			if v < PieceNormal || v > PieceByte {
				return p, fmt.Errorf("%s.type %d is not a piece type (1 to 6)", field, int64(v))
			}
			p.Type = int(v)
		}
	}
	if !hasPiece || p.Piece == "" {
		return p, fmt.Errorf("%s (at byte %d): empty piece", field, base)
	}
	return p, nil
}

// parseTrainerSpec decodes the TrainerSpec fields a tokenizer needs.
func parseTrainerSpec(m *SentencePieceModel, base int, b []byte) error {
	r := wire{b: b, base: base}
	for !r.done() {
		f, err := r.next("trainer_spec")
		if err != nil {
			return err
		}
		var ip *int
		var sp *string
		var name string
		switch f.num {
		case 3:
			ip, name = &m.ModelType, "model_type"
		case 4:
			ip, name = &m.VocabSize, "vocab_size"
		case 40:
			ip, name = &m.UnkID, "unk_id"
		case 41:
			ip, name = &m.BOSID, "bos_id"
		case 42:
			ip, name = &m.EOSID, "eos_id"
		case 43:
			ip, name = &m.PadID, "pad_id"
		case 45:
			sp, name = &m.UnkPiece, "unk_piece"
		case 46:
			sp, name = &m.BOSPiece, "bos_piece"
		case 47:
			sp, name = &m.EOSPiece, "eos_piece"
		case 48:
			sp, name = &m.PadPiece, "pad_piece"
		case 35:
			v, err := f.varint("trainer_spec.byte_fallback")
			if err != nil {
				return err
			}
			m.ByteFallback = v != 0
		}
		switch {
		case ip != nil:
			v, err := f.varint("trainer_spec." + name)
			if err != nil {
				return err
			}
			*ip = int(int32(v)) // an int32 field: negative values are sign-extended varints
		case sp != nil:
			s, err := f.str("trainer_spec." + name)
			if err != nil {
				return err
			}
			*sp = s
		}
	}
	return nil
}

// parseNormalizerSpec decodes a NormalizerSpec.
func parseNormalizerSpec(n *SentencePieceNormalizer, base int, b []byte) error {
	r := wire{b: b, base: base}
	for !r.done() {
		f, err := r.next("normalizer_spec")
		if err != nil {
			return err
		}
		var bp *bool
		switch f.num {
		case 1:
			s, err := f.str("normalizer_spec.name")
			if err != nil {
				return err
			}
			n.Name = s
		case 2:
			v, err := f.bytes("normalizer_spec.precompiled_charsmap")
			if err != nil {
				return err
			}
			n.PrecompiledCharsmap = v
		case 3:
			bp = &n.AddDummyPrefix
		case 4:
			bp = &n.RemoveExtraWhitespaces
		case 5:
			bp = &n.EscapeWhitespaces
		}
		if bp != nil {
			v, err := f.varint(fmt.Sprintf("normalizer_spec field %d", f.num))
			if err != nil {
				return err
			}
			*bp = v != 0
		}
	}
	return nil
}

// Protobuf wire types.
const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

// wire walks the fields of one protobuf message; base is the message's
// offset in the file, for errors.
type wire struct {
	b    []byte
	i    int
	base int
}

// wireField is one field: its number, wire type, and value (the varint,
// or the fixed or length-delimited bytes). off is where it starts.
type wireField struct {
	num, typ int
	v        uint64
	raw      []byte
	off, at  int // where the field and its value start
}

func (r *wire) done() bool { return r.i >= len(r.b) }

// varint reads a base-128 varint of at most 10 bytes.
func (r *wire) varint() (uint64, bool) {
	var v uint64
	for k := 0; k < 10; k++ {
		if r.i >= len(r.b) {
			return 0, false
		}
		c := r.b[r.i]
		r.i++
		if k == 9 && c > 1 {
			return 0, false // more than 64 bits
		}
		v |= uint64(c&0x7f) << (7 * k)
		if c < 0x80 {
			return v, true
		}
	}
	return 0, false
}

// next reads the next field of msg, bounds-checking its value.
func (r *wire) next(msg string) (wireField, error) {
	off := r.base + r.i
	key, ok := r.varint()
	if !ok {
		return wireField{}, fmt.Errorf("%s: truncated or overlong field key at byte %d", msg, off)
	}
	f := wireField{num: int(key >> 3), typ: int(key & 7), off: off}
	if key>>3 == 0 || key>>3 > 1<<29-1 {
		return f, fmt.Errorf("%s: invalid field number %d at byte %d", msg, key>>3, off)
	}
	switch f.typ {
	case wireVarint:
		if f.v, ok = r.varint(); !ok {
			return f, fmt.Errorf("%s: field %d at byte %d: truncated or overlong varint", msg, f.num, off)
		}
	case wireFixed64, wireFixed32:
		n := 8
		if f.typ == wireFixed32 {
			n = 4
		}
		if len(r.b)-r.i < n {
			return f, fmt.Errorf("%s: field %d at byte %d: %d-byte value truncated (%d bytes left)", msg, f.num, off, n, len(r.b)-r.i)
		}
		f.raw = r.b[r.i : r.i+n]
		r.i += n
	case wireBytes:
		n, ok := r.varint()
		if !ok {
			return f, fmt.Errorf("%s: field %d at byte %d: truncated length", msg, f.num, off)
		}
		if n > uint64(len(r.b)-r.i) {
			return f, fmt.Errorf("%s: field %d at byte %d: length %d runs past the end (%d bytes left)", msg, f.num, off, n, len(r.b)-r.i)
		}
		f.raw, f.at = r.b[r.i:r.i+int(n)], r.base+r.i
		r.i += int(n)
	default:
		return f, fmt.Errorf("%s: field %d at byte %d: wire type %d is not supported (groups are deprecated)", msg, f.num, off, f.typ)
	}
	return f, nil
}

// wireNames names wire types in errors.
var wireNames = map[int]string{wireVarint: "varint", wireFixed64: "64-bit", wireBytes: "length-delimited", wireFixed32: "32-bit"}

func (f wireField) want(field string, typ int) error {
	if f.typ != typ {
		return fmt.Errorf("%s (at byte %d): wire type %d (%s), want %d (%s)", field, f.off, f.typ, wireNames[f.typ], typ, wireNames[typ])
	}
	return nil
}

func (f wireField) varint(field string) (uint64, error) { return f.v, f.want(field, wireVarint) }

func (f wireField) fixed32(field string) (uint32, error) {
	if err := f.want(field, wireFixed32); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(f.raw), nil
}

func (f wireField) bytes(field string) ([]byte, error) { return f.raw, f.want(field, wireBytes) }

// str reads a string field, which must be UTF-8.
func (f wireField) str(field string) (string, error) {
	b, err := f.bytes(field)
	if err != nil {
		return "", err
	}
	if !utf8.Valid(b) {
		return "", fmt.Errorf("%s (at byte %d): not valid UTF-8: %q", field, f.off, b)
	}
	return string(b), nil
}
