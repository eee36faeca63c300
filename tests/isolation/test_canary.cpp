// Canary: files that each carry a unique marker, and damaged copies of them (cut short at many
// points, length fields inflated), all extracted in sequence by ONE worker process. No view of
// one file may show another file's marker: a value that claims more bytes than its file holds
// must not be filled from memory that earlier extractions left behind.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "dicom_builder.hpp"
#include "extraction/worker_pool.hpp"
#include "mount_runner.hpp"
#include "render.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using metafs::extract::Extraction;
using metafs::extract::Format;
using metafs::extraction::WorkerPool;
using metafs::extraction::WorkerPoolOptions;

namespace {

constexpr int kSources = 4;

std::string marker(int source) {
  char text[32];
  std::snprintf(text, sizeof text, "CANARY%02dQ", source);
  return text;
}

// `text` repeated to exactly `size` bytes.
std::string repeat(const std::string& text, std::size_t size) {
  std::string out;
  while (out.size() < size) out += text;
  out.resize(size);
  return out;
}

// Values of the sizes the damaged copies claim, so that a buffer of that size handed out
// again would still hold them.
std::string dicom_with_marker(int source) {
  std::string m = marker(source);
  metafs::test::DicomBuilder file;
  file.text(0x0008, 0x0060, "CS", "OT")
      .text(0x0008, 0x1030, "LO", m + "-STUDY")
      .text(0x0010, 0x0010, "PN", m + "^PATIENT")
      .text(0x0010, 0x0020, "LO", m + "-ID")
      .begin_sequence(0x0008, 0x1110)
      .begin_item()
      .text(0x0020, 0x4000, "LT", repeat(m + "-IN-SEQUENCE-", 3600))
      .end_item()
      .end_sequence()
      .text(0x0032, 0x4000, "LT", repeat(m + "-COMMENTS-", 4000))
      .long_value(0x0040, 0x0280, "UT", repeat(m + "-DEFERRED-", 9000));
  return file.bytes();
}

std::string fits_card(const std::string& text) {
  std::string card = text;
  card.resize(80, ' ');
  return card;
}

std::string fits_with_marker(int source) {
  std::string m = marker(source);
  std::string header;
  header += fits_card("SIMPLE  =                    T");
  header += fits_card("BITPIX  =                    8");
  header += fits_card("NAXIS   =                    0");
  header += fits_card("EXTEND  =                    T");
  header += fits_card("OBJECT  = '" + m + "-OBJECT'");
  header += fits_card("OBSERVER= '" + m + "-OBSERVER'");
  for (int i = 0; i < 30; ++i)
    header += fits_card("COMMENT " + m + "-COMMENT-" + std::to_string(i));
  header += fits_card("LONGSTR = '" + repeat(m + "-LONG-", 60) + "&'");
  header += fits_card("CONTINUE  '" + repeat(m + "-CONT-", 60) + "'");
  for (int i = 0; i < 20; ++i)
    header += fits_card("HISTORY " + m + "-HISTORY-" + std::to_string(i));
  header += fits_card("END");
  header.resize((header.size() + 2879) / 2880 * 2880, ' ');
  return header;
}

// Damaged copies of `bytes`: cut at many points, and with bytes that look like lengths
// inflated (DICOM) or cards broken (FITS).
std::vector<std::string> damaged_copies(const std::string& bytes, bool dicom) {
  std::vector<std::string> copies;
  for (std::size_t cut : {150ul, 300ul, 400ul, 450ul, 700ul, 1000ul, 2000ul, 3000ul, 3700ul, 4000ul,
                          5000ul, 7000ul, 8500ul, 12000ul, 16000ul}) {
    if (cut < bytes.size()) copies.push_back(bytes.substr(0, cut));
  }
  copies.push_back(bytes.substr(0, bytes.size() - 1));
  if (dicom) {
    // The 16-bit length of every element with a 2-byte length (a tag of a low group, its
    // VR) made large, one copy each: the value then runs into what follows, or past the end.
    for (std::size_t i = 136; i + 4 <= bytes.size(); ++i) {
      std::string vr = bytes.substr(i, 2);
      if (bytes[i - 3] == 0 &&
          (vr == "CS" || vr == "LO" || vr == "PN" || vr == "LT" || vr == "UI" || vr == "UL")) {
        std::string copy = bytes;
        copy[i + 3] = static_cast<char>(0x7F);
        copies.push_back(copy);
      }
    }
  } else {
    std::string copy = bytes;
    copy.replace(80 * 36, 9, "BADKEY= '");  // an unterminated string in the LONGSTR card
    copies.push_back(copy);
  }
  return copies;
}

std::string every_rendering(const Extraction& out) {
  std::string all = out.error + metafs::extract::render_txt(out.tree) +
                    metafs::extract::render_json(out.tree) + out.header;
  for (const auto& [name, text] : out.extra_files) all += text;
  return all;
}

TEST(Canary, NoFileShowsAnotherFilesMarker) {
  ::setenv("METAFS_WORKER", metafs::test::binary("metafs-extract").c_str(), 1);
  ::unsetenv("METAFS_WORKER_TEST_FAULT");
  metafs::test::TempDir tmp;
  WorkerPoolOptions options;
  options.workers = 1;
  options.recycle_after = 100000;  // one process for the whole sequence
  WorkerPool pool(options);

  struct Sample {
    fs::path path;
    Format format;
    int source;
  };
  std::vector<Sample> originals;
  std::vector<Sample> damaged;
  for (int source = 0; source < kSources; ++source) {
    for (bool dicom : {true, false}) {
      std::string bytes = dicom ? dicom_with_marker(source) : fits_with_marker(source);
      std::string stem = (dicom ? "d" : "f") + std::to_string(source);
      const char* ext = dicom ? ".dcm" : ".fits";
      Format format = dicom ? Format::kDicom : Format::kFits;
      originals.push_back({tmp.path() / (stem + ext), format, source});
      std::ofstream(originals.back().path, std::ios::binary) << bytes;
      int n = 0;
      for (const std::string& copy : damaged_copies(bytes, dicom)) {
        damaged.push_back({tmp.path() / (stem + "_" + std::to_string(n++) + ext), format, source});
        std::ofstream(damaged.back().path, std::ios::binary) << copy;
      }
    }
  }

  auto check = [&](const Sample& sample) {
    Extraction out = pool.extract(metafs::extract::open_source_file(sample.path), sample.format);
    std::string all = every_rendering(out);
    for (int other = 0; other < kSources; ++other) {
      if (other == sample.source) continue;
      EXPECT_EQ(all.find(marker(other)), std::string::npos)
          << sample.path.filename() << " shows " << marker(other) << ":\n"
          << all.substr(0, 4000);
    }
    return out;
  };
  // The originals show their own markers (the canary is alive)...
  for (const auto& sample : originals) {
    Extraction out = check(sample);
    EXPECT_FALSE(out.failed()) << sample.path << ": " << out.error;
    EXPECT_NE(every_rendering(out).find(marker(sample.source)), std::string::npos);
  }
  // ...and each damaged copy comes right after the originals of every other source, so the
  // worker's freed memory holds their text.
  std::size_t after_failure = 0;
  for (const auto& sample : damaged) {
    for (const auto& original : originals) {
      if (original.source != sample.source && original.format == sample.format) check(original);
    }
    check(sample);
    if (::testing::Test::HasFailure() && ++after_failure > 5) break;  // enough said
  }
  EXPECT_GT(damaged.size(), 40u);
}

}  // namespace
