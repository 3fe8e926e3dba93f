// SPDX-License-Identifier: Apache-2.0
// WAV audio: read 8-bit unsigned and 16-bit signed PCM into (channels, frames) floats in [-1, 1];
// write 16-bit PCM (atomically).
//
// Layout (RIFF): "RIFF", a little-endian uint32 size, "WAVE", then chunks, each a 4-byte id, a
// little-endian uint32 body size, the body and a padding byte when the size is odd. The "fmt "
// chunk gives the format tag (1 = PCM, or 0xFFFE = WAVE_FORMAT_EXTENSIBLE whose sub-format GUID
// says PCM), the channel count, the sample rate, block_align (bytes per frame) and the bits per
// sample; the "data" chunk holds the frames, channels interleaved. Other chunks (LIST, fact, cue,
// ...) are skipped. A malformed file raises io_error naming the reader, the file and the fault,
// and the reader never reads outside the buffer.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "pretext/core/error.hpp"
#include "pretext/core/tensor.hpp"
#include "pretext/io/text.hpp"

namespace pretext::io {

/// A decoded WAV file.
struct Wav {
  Tensor<float, 2> samples;  ///< (channels, frames), each sample in [-1, 1]
  int sample_rate = 0;       ///< frames per second
  int channels = 0;          ///< samples.shape()[0]
};

namespace detail {

inline constexpr const char* kWavWho = "pretext::io::read_wav";

inline std::uint32_t wav_u32(const unsigned char* p) {
  return std::uint32_t(p[0]) | (std::uint32_t(p[1]) << 8) | (std::uint32_t(p[2]) << 16) |
         (std::uint32_t(p[3]) << 24);
}
inline std::uint16_t wav_u16(const unsigned char* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
inline void wav_put(std::string& out, std::uint32_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFFu));
}

}  // namespace detail

/// Decodes a WAV file held in memory; `name` stands for the path in messages. Accepts PCM
/// (format 1, or WAVE_FORMAT_EXTENSIBLE with the PCM sub-format), 8-bit unsigned or 16-bit signed,
/// any channel count >= 1. 8-bit samples map to (u - 128) / 128, 16-bit ones to s / 32768.
/// Rejects with io_error: a missing RIFF/WAVE signature, a missing, short, repeated or
/// inconsistent "fmt " chunk (block_align != channels * bits / 8), other formats and bit depths,
/// a missing or repeated "data" chunk, and a data chunk that runs past the end of the file or
/// does not hold whole frames.
inline Wav read_wav_bytes(const unsigned char* data, std::size_t size,
                          const std::string& name = "<memory>") {
  using detail::wav_u16;
  using detail::wav_u32;
  auto bad = [&](const auto&... a) {
    pretext::detail::fail<io_error>(detail::kWavWho, ": '", name, "' ", a...);
  };
  if (size < 12 || std::memcmp(data, "RIFF", 4) != 0 || std::memcmp(data + 8, "WAVE", 4) != 0)
    bad("is not a WAV file (it does not start with \"RIFF\" .... \"WAVE\"); RF64 and other "
        "containers are not supported");

  // Walk the chunks to the end of the buffer. The RIFF size field is not trusted: streaming
  // writers leave it wrong, and the buffer's own size is the real bound.
  const unsigned char* fmt = nullptr;
  std::uint32_t fmt_size = 0;
  const unsigned char* body = nullptr;
  std::uint32_t body_size = 0;
  std::size_t pos = 12;
  while (size - pos >= 8) {
    const unsigned char* id = data + pos;
    const std::uint32_t n = wav_u32(data + pos + 4);
    const std::size_t left = size - pos - 8;  // bytes after this chunk's header
    if (std::memcmp(id, "fmt ", 4) == 0) {
      if (fmt) bad("has two \"fmt \" chunks; the file is corrupt");
      if (n > left) bad("has a \"fmt \" chunk of ", n, " bytes that runs past the end of the file");
      fmt = data + pos + 8;
      fmt_size = n;
    } else if (std::memcmp(id, "data", 4) == 0) {
      if (body) bad("has two \"data\" chunks; only one is supported");
      if (n > left)
        bad("has a \"data\" chunk of ", n, " bytes but only ", left,
            " bytes follow its header; the file is truncated");
      body = data + pos + 8;
      body_size = n;
    }
    // Skip the body and its padding byte; a missing final padding byte is tolerated.
    const std::uint64_t skip = std::uint64_t(n) + (n & 1u);
    if (skip >= left) break;
    pos += 8 + static_cast<std::size_t>(skip);
  }
  if (!fmt) bad("has no \"fmt \" chunk; the file is truncated or not PCM audio");
  if (fmt_size < 16) bad("has a \"fmt \" chunk of ", fmt_size, " bytes, fewer than 16");

  const std::uint16_t tag = wav_u16(fmt);
  const std::uint16_t channels = wav_u16(fmt + 2);
  const std::uint32_t rate = wav_u32(fmt + 4);
  const std::uint16_t block_align = wav_u16(fmt + 12);
  const std::uint16_t bits = wav_u16(fmt + 14);
  if (tag == 0xFFFE) {
    // WAVE_FORMAT_EXTENSIBLE: cbSize (2), valid bits (2), channel mask (4), sub-format GUID (16)
    // whose first two bytes are the plain format tag and whose tail is the fixed KSDATAFORMAT one.
    static constexpr unsigned char tail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                               0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};
    if (fmt_size < 40)
      bad("uses WAVE_FORMAT_EXTENSIBLE but its \"fmt \" chunk has ", fmt_size,
          " bytes, fewer than 40");
    const std::uint16_t sub = wav_u16(fmt + 24);
    if (sub != 1 || std::memcmp(fmt + 26, tail, 14) != 0)
      bad("uses WAVE_FORMAT_EXTENSIBLE with sub-format ", sub,
          ", not PCM; convert it to 8- or 16-bit PCM (e.g. sox in.wav -b 16 -e signed out.wav)");
  } else if (tag != 1) {
    bad("has format tag ", tag,
        tag == 3               ? " (IEEE float)"
        : tag == 6 || tag == 7 ? " (A-law/mu-law)"
                               : "",
        "; only PCM (1) is supported: convert it to 8- or 16-bit PCM (e.g. sox in.wav -b 16 -e "
        "signed out.wav)");
  }
  if (bits != 8 && bits != 16)
    bad("has ", bits,
        " bits per sample; only 8-bit unsigned and 16-bit signed PCM are supported: convert it "
        "(e.g. sox in.wav -b 16 out.wav)");
  if (channels == 0) bad("declares 0 channels");
  if (rate == 0 || rate > 0x7FFFFFFFu) bad("declares a sample rate of ", rate, " Hz");
  const unsigned frame_bytes = unsigned(channels) * (bits / 8u);
  if (block_align != frame_bytes)
    bad("has block_align ", block_align, ", inconsistent with ", channels, " channels of ", bits,
        " bits (", frame_bytes, " bytes per frame); the header is corrupt");
  if (!body) bad("has no \"data\" chunk; the file is truncated");
  if (body_size % frame_bytes != 0)
    bad("has a \"data\" chunk of ", body_size, " bytes, not a whole number of ", frame_bytes,
        "-byte frames; the file is truncated or corrupt");

  const auto frames = static_cast<index_t>(body_size / frame_bytes);
  Wav w;
  w.sample_rate = static_cast<int>(rate);
  w.channels = channels;
  w.samples = Tensor<float, 2>(Shape<2>{channels, frames});
  float* out = w.samples.data();  // (channels, frames): de-interleaves the frames
  for (index_t f = 0; f < frames; ++f) {
    const unsigned char* p = body + static_cast<std::size_t>(f) * frame_bytes;
    for (index_t c = 0; c < channels; ++c) {
      const float v = bits == 8 ? (float(p[c]) - 128.0f) / 128.0f
                                : float(static_cast<std::int16_t>(wav_u16(p + 2 * c))) / 32768.0f;
      out[c * frames + f] = v;
    }
  }
  return w;
}

/// Reads the WAV file at `path`; see read_wav_bytes for what is accepted and rejected.
inline Wav read_wav(const std::string& path) {
  const std::string bytes = detail::read_file(path, detail::kWavWho);
  return read_wav_bytes(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), path);
}

/// The bytes of a 16-bit PCM WAV file holding `samples` (channels, frames). Samples are clamped
/// to [-1, 1] and stored as round(x * 32768) clipped to [-32768, 32767], so a value read by
/// read_wav (s / 32768) comes back exactly. Throws io_error for NaN samples, no channels, more
/// than 65535 channels, a sample rate <= 0, or data beyond the 4 GiB RIFF limit.
inline std::string encode_wav(const Tensor<float, 2>& samples, int sample_rate) {
  constexpr const char* who = "pretext::io::write_wav";
  const index_t channels = samples.shape()[0], frames = samples.shape()[1];
  PRETEXT_CHECK(channels >= 1 && channels <= 65535, io_error, who, ": samples of shape ",
                pretext::detail::shape_string(samples.shape()),
                " must be (channels, frames) with 1 to 65535 channels");
  PRETEXT_CHECK(sample_rate > 0, io_error, who, ": sample rate ", sample_rate,
                " Hz; it must be positive");
  const std::uint64_t data_bytes = std::uint64_t(channels) * std::uint64_t(frames) * 2;
  PRETEXT_CHECK(data_bytes <= 0xFFFFFFFFull - 36, io_error, who, ": ", data_bytes,
                " bytes of samples exceed the 4 GiB a RIFF file can hold; split the audio");
  std::string out;
  out.reserve(44 + static_cast<std::size_t>(data_bytes));
  out += "RIFF";
  detail::wav_put(out, static_cast<std::uint32_t>(36 + data_bytes), 4);
  out += "WAVEfmt ";
  detail::wav_put(out, 16, 4);
  detail::wav_put(out, 1, 2);  // PCM
  detail::wav_put(out, static_cast<std::uint32_t>(channels), 2);
  detail::wav_put(out, static_cast<std::uint32_t>(sample_rate), 4);
  // The byte rate is informative only; a huge rate times many channels wraps, as in other writers.
  detail::wav_put(out, static_cast<std::uint32_t>(std::uint64_t(sample_rate) * 2 * channels), 4);
  detail::wav_put(out, static_cast<std::uint32_t>(2 * channels), 2);  // block_align
  detail::wav_put(out, 16, 2);                                        // bits per sample
  out += "data";
  detail::wav_put(out, static_cast<std::uint32_t>(data_bytes), 4);
  const auto c_samples = samples.contiguous();
  const float* in = c_samples.data();  // (channels, frames); the file interleaves the channels
  for (index_t f = 0; f < frames; ++f)
    for (index_t c = 0; c < channels; ++c) {
      const float x = in[c * frames + f];
      PRETEXT_CHECK(!std::isnan(x), io_error, who, ": sample (", c, ", ", f,
                    ") is NaN; clean the audio before writing it");
      const float clamped = x < -1.0f ? -1.0f : x > 1.0f ? 1.0f : x;
      const long q = std::lround(clamped * 32768.0f);
      const auto s = static_cast<std::int16_t>(q > 32767 ? 32767 : q);
      detail::wav_put(out, static_cast<std::uint16_t>(s), 2);
    }
  return out;
}

/// Writes `samples` (channels, frames) in [-1, 1] as a 16-bit PCM WAV file, atomically (through
/// a temporary file and a rename). Throws io_error as encode_wav does or when writing fails.
inline void write_wav(const std::string& path, const Tensor<float, 2>& samples, int sample_rate) {
  const std::string bytes = encode_wav(samples, sample_rate);
  detail::write_file_atomic(path, bytes.data(), bytes.size(), "pretext::io::write_wav");
}

}  // namespace pretext::io
