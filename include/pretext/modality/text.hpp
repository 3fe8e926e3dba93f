// SPDX-License-Identifier: Apache-2.0
// Text as token ids.
//   Vocabulary   strings <-> ids at the level of characters (UTF-8 code points) or
//                whitespace-separated words, with the special tokens [PAD] 0, [UNK] 1, [MASK] 2,
//                [CLS] 3, [SEP] 4 at fixed ids; encode_batch makes a (B, N) id tensor padded or
//                truncated to N.
//   TokenIds<T>  the adapter: batch = tokens = ids (B, N) in [0, V); predictions are logits
//                (B, M, V) scored by cross-entropy, skipping positions whose target is padding.
#pragma once

#include "pretext/modality/adapter.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>  // std::less<> lookups by string_view
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pretext::modality {

/// What one token of text is.
enum class TextLevel {
  characters,  ///< one UTF-8 code point (a stray byte that is not valid UTF-8 is one token)
  words,       ///< a maximal run of non-whitespace (ASCII whitespace separates)
};

class Vocabulary {
 public:
  static constexpr std::int64_t pad = 0, unk = 1, mask = 2, cls = 3, sep = 4;
  static constexpr index_t num_special = 5;

  /// Only the special tokens.
  explicit Vocabulary(TextLevel level = TextLevel::characters) : level_(level) {
    for (const char* s : {"[PAD]", "[UNK]", "[MASK]", "[CLS]", "[SEP]"}) add(s);
  }
  /// The special tokens, then `tokens` in the given order (ids 5, 6, ...). A token given twice,
  /// or equal to a special token's string, is an error.
  Vocabulary(const std::vector<std::string>& tokens, TextLevel level) : Vocabulary(level) {
    for (const auto& t : tokens) {
      PRETEXT_CHECK(!t.empty(), config_error, "pretext::modality::Vocabulary: an empty token");
      PRETEXT_CHECK(!contains(t), config_error, "pretext::modality::Vocabulary: token '", t,
                    "' is given twice (or is a special token)");
      add(t);
    }
  }

  /// The tokens of `lines` that occur at least min_count times, most frequent first (ties in
  /// byte order, so the result does not depend on hash seeds), after the specials. max_size
  /// (>= 5, counting the specials) keeps the most frequent; -1 keeps all.
  static Vocabulary from_text(const std::vector<std::string>& lines,
                              TextLevel level = TextLevel::characters, index_t min_count = 1,
                              index_t max_size = -1) {
    PRETEXT_CHECK(min_count >= 1, config_error,
                  "pretext::modality::Vocabulary::from_text: ", "min_count ", min_count,
                  " must be at least 1");
    PRETEXT_CHECK(max_size == -1 || max_size >= num_special, config_error,
                  "pretext::modality::Vocabulary::from_text: max_size ", max_size,
                  " must be -1 (no limit) or at least the ", num_special, " special tokens");
    std::map<std::string, index_t, std::less<>> counts;
    for (const auto& line : lines)
      for (std::string_view t : split(line, level)) {
        auto it = counts.find(t);
        if (it == counts.end())
          counts.emplace(std::string(t), 1);
        else
          ++it->second;
      }
    std::vector<std::pair<std::string, index_t>> order(counts.begin(), counts.end());
    std::stable_sort(order.begin(), order.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    Vocabulary v(level);
    for (const auto& [t, n] : order) {
      if (n < min_count) break;
      if (max_size != -1 && v.size() >= max_size) break;
      if (!v.contains(t)) v.add(t);
    }
    return v;
  }

  /// text cut into tokens at `level` (views into text).
  static std::vector<std::string_view> split(std::string_view text, TextLevel level) {
    std::vector<std::string_view> out;
    const std::size_t n = text.size();
    if (level == TextLevel::characters) {
      for (std::size_t i = 0; i < n;) {
        const std::size_t len = utf8_length(text, i);
        out.push_back(text.substr(i, len));
        i += len;
      }
    } else {
      std::size_t i = 0;
      while (i < n) {
        while (i < n && is_space(text[i])) ++i;
        const std::size_t start = i;
        while (i < n && !is_space(text[i])) ++i;
        if (i > start) out.push_back(text.substr(start, i - start));
      }
    }
    return out;
  }

  TextLevel level() const noexcept { return level_; }
  /// The number of ids (V), specials included.
  index_t size() const noexcept { return static_cast<index_t>(tokens_.size()); }
  std::int64_t pad_id() const noexcept { return pad; }
  std::int64_t unk_id() const noexcept { return unk; }
  std::int64_t mask_id() const noexcept { return mask; }
  std::int64_t cls_id() const noexcept { return cls; }
  std::int64_t sep_id() const noexcept { return sep; }
  /// The ids a masking policy must neither pick nor draw as random replacements.
  std::array<std::int64_t, 5> special_ids() const noexcept { return {pad, unk, mask, cls, sep}; }
  bool is_special(std::int64_t id) const noexcept { return id >= 0 && id < num_special; }

  bool contains(std::string_view token) const { return index_.find(token) != index_.end(); }
  /// The id of a token; unk_id() when it is not in the vocabulary.
  std::int64_t id(std::string_view token) const {
    const auto it = index_.find(token);
    return it == index_.end() ? unk : it->second;
  }
  /// The string of an id (the specials read "[PAD]", "[UNK]", "[MASK]", "[CLS]", "[SEP]").
  const std::string& token(std::int64_t id) const {
    PRETEXT_CHECK(id >= 0 && id < size(), index_error, "pretext::modality::Vocabulary: id ", id,
                  " is outside the vocabulary [0, ", size(), ")");
    return tokens_[static_cast<std::size_t>(id)];
  }
  /// Every token by id.
  const std::vector<std::string>& tokens() const noexcept { return tokens_; }

  /// text -> ids, unknown tokens as unk_id(). No [CLS] or padding (see encode_batch).
  std::vector<std::int64_t> encode(std::string_view text) const {
    std::vector<std::int64_t> ids;
    for (std::string_view t : split(text, level_)) ids.push_back(id(t));
    return ids;
  }

  /// ids -> text: characters are concatenated, words joined by single spaces. Specials read as
  /// their bracketed strings unless skip_special, which drops them (padding, [CLS], ...).
  /// decode(encode(s)) == s for text whose tokens are all known (at the word level, up to
  /// whitespace).
  std::string decode(std::span<const std::int64_t> ids, bool skip_special = false) const {
    std::string out;
    bool first = true;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const std::int64_t k = ids[i];
      const std::string& t = token(k);
      if (skip_special && is_special(k)) continue;
      if (level_ == TextLevel::words && !first) out += ' ';
      out += t;
      first = false;
    }
    return out;
  }
  /// One row of encode_batch's result, say.
  std::string decode(const Tensor<std::int64_t, 1>& ids, bool skip_special = false) const {
    const auto v = ids.to_vector();
    return decode(std::span<const std::int64_t>(v), skip_special);
  }

  /// lines -> (B, seq_len) ids: each row is [CLS] (when add_cls) then the line's ids, cut at
  /// seq_len and padded with pad_id().
  Tensor<std::int64_t, 2> encode_batch(const std::vector<std::string>& lines, index_t seq_len,
                                       bool add_cls = false) const {
    PRETEXT_CHECK(seq_len > 0, config_error,
                  "pretext::modality::Vocabulary::encode_batch: seq_len ", seq_len,
                  " must be positive");
    const auto B = static_cast<index_t>(lines.size());
    auto out = Tensor<std::int64_t, 2>::full(Shape<2>{B, seq_len}, pad);
    for (index_t b = 0; b < B; ++b) {
      index_t n = 0;
      if (add_cls) out(b, n++) = cls;
      for (std::string_view t : split(lines[static_cast<std::size_t>(b)], level_)) {
        if (n == seq_len) break;
        out(b, n++) = id(t);
      }
    }
    return out;
  }

 private:
  static bool is_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  }
  /// Bytes of the UTF-8 sequence starting at text[i]; 1 for a byte that starts none.
  static std::size_t utf8_length(std::string_view text, std::size_t i) noexcept {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t len = 1;
    if (lead >= 0xF0 && lead <= 0xF7)
      len = 4;
    else if (lead >= 0xE0)
      len = lead <= 0xEF ? 3 : 1;
    else if (lead >= 0xC0)
      len = 2;
    if (i + len > text.size()) return 1;
    for (std::size_t k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return 1;
    return len;
  }
  void add(std::string t) {
    index_.emplace(t, size());
    tokens_.push_back(std::move(t));
  }

  TextLevel level_;
  std::vector<std::string> tokens_;
  std::map<std::string, std::int64_t, std::less<>> index_;
};

/// The adapter for token ids: batch = tokens = (B, N) ids in [0, vocab_size).
template <floating T = float>
class TokenIds {
 public:
  using value_type = T;
  using batch_type = Tensor<std::int64_t, 2>;  ///< (B, N)
  using token_type = Tensor<std::int64_t, 2>;  ///< (B, N)
  static constexpr bool continuous = false;

  /// vocab_size ids; sequences of seq_len (-1: any length); targets equal to pad_id are not
  /// scored (-1: none is padding).
  explicit TokenIds(index_t vocab_size, index_t seq_len = -1, std::int64_t pad_id = 0)
      : v_(vocab_size), n_(seq_len), pad_(pad_id) {
    PRETEXT_CHECK(vocab_size > 0, config_error, "pretext::modality::TokenIds: vocab_size ",
                  vocab_size, " must be positive");
    PRETEXT_CHECK(seq_len == -1 || seq_len > 0, config_error,
                  "pretext::modality::TokenIds: seq_len ", seq_len,
                  " must be positive, or -1 for any length");
    PRETEXT_CHECK(pad_id >= -1 && pad_id < vocab_size, config_error,
                  "pretext::modality::TokenIds: pad_id ", pad_id, " is outside [0, ", vocab_size,
                  ") (use -1 for none)");
  }
  /// The vocabulary's size and padding id.
  explicit TokenIds(const Vocabulary& vocab, index_t seq_len = -1)
      : TokenIds(vocab.size(), seq_len, vocab.pad_id()) {}

  index_t vocab_size() const noexcept { return v_; }
  index_t seq_len() const noexcept { return n_; }
  std::int64_t pad_id() const noexcept { return pad_; }
  index_t num_tokens() const noexcept { return n_; }
  index_t target_dim() const noexcept { return v_; }

  /// Checks the ids (each in [0, V), rows of seq_len when one is set) and returns a copy.
  token_type tokens(const batch_type& x) const {
    PRETEXT_CHECK(n_ == -1 || x.size(1) == n_, shape_error, "pretext::modality::TokenIds: ids ",
                  pretext::detail::shape_string(x.shape()), " are not sequences of ", n_,
                  " as the adapter was configured (Vocabulary::encode_batch pads and truncates)");
    for (index_t b = 0; b < x.size(0); ++b)
      for (index_t n = 0; n < x.size(1); ++n) {
        const std::int64_t id = x(b, n);
        PRETEXT_CHECK(id >= 0 && id < v_, index_error, "pretext::modality::TokenIds: id ", id,
                      " at (", b, ", ", n, ") is outside the vocabulary [0, ", v_, ")");
      }
    return x.clone();
  }

  /// Mean cross-entropy of logits pred (B, M, V) against the ids at idx (B, M), positions whose
  /// target is pad_id not counted; 0 when every target is padding.
  Var<T, 0> prediction_loss(const Var<T, 3>& pred, const token_type& tokens,
                            const Tensor<std::int64_t, 2>& idx) const {
    PRETEXT_CHECK(n_ == -1 || tokens.size(1) == n_, shape_error,
                  "pretext::modality::TokenIds::prediction_loss: ids ",
                  pretext::detail::shape_string(tokens.shape()), " are not sequences of ", n_);
    return discrete_prediction_loss(pred, tokens, idx, pad_,
                                    "pretext::modality::TokenIds::prediction_loss");
  }

 private:
  index_t v_, n_;
  std::int64_t pad_;
};

}  // namespace pretext::modality
