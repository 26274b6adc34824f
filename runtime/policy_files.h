// Finding, reading and atomically replacing policy files.
#pragma once

#include <string>
#include <vector>

namespace setpoint {

struct FileError {
  std::string path;
  std::string message;
};

// Files are taken as given; directories are searched recursively for *.setpoint files. The
// result is sorted and free of duplicates, so runs are reproducible.
std::vector<std::string> expand_policy_paths(const std::vector<std::string>& paths,
                                             std::vector<FileError>& errors);

// Reads at most max_bytes + 1 bytes, so an oversized file is detected without reading it all.
bool read_file(const std::string& path, size_t max_bytes, std::string& text, std::string& error);

// Writes to a temporary file in the same directory, syncs it, keeps the original's permissions
// and renames it over the original: readers see the old file or the new one, never a mix.
bool write_file_atomically(const std::string& path, const std::string& text, std::string& error);

}  // namespace setpoint
