#include "hdf5_header.hpp"

#include <optional>
#include <string>

namespace metafs::extract::hdf5 {
namespace {

class HeaderPrinter {
 public:
  explicit HeaderPrinter(const FileModel& model) : model_(model) {}

  std::string print(std::string_view file_name) {
    out_ += "HDF5 \"";
    out_ += file_name;
    out_ += "\" {\n";
    for (const auto& note : model_.notes) line(0, "/* " + note + " */");
    line(0, "GROUP \"/\" {");
    // h5dump shows committed types that no link names first, in the root group.
    for (const auto& type : model_.anonymous_types) child_block(type, 1);
    group_body(model_.root, 1);
    line(0, "}");
    line(0, "}");
    return std::move(out_);
  }

 private:
  void line(int level, std::string_view text) {
    out_.append(static_cast<std::size_t>(level) * 3, ' ');
    out_ += text;
    out_ += '\n';
  }

  // A type block whose later lines are indented relative to `level`.
  // A newline inside a name is NUL in the block (see TypeText): printed, it starts a line at
  // column 0, as h5dump prints it.
  void type_line(int level, const std::string& prefix, const std::string& block) {
    std::string indented;
    std::string indent(static_cast<std::size_t>(level) * 3, ' ');
    for (char c : block) {
      if (c == '\0') {
        indented += '\n';
        continue;
      }
      indented += c;
      if (c == '\n') indented += indent;
    }
    line(level, prefix + indented);
  }

  // A committed type used by an attribute or dataset: h5dump names it by its path, or by
  // "/#<address>" when no link names it.
  std::string committed_name(std::uint64_t address) const {
    auto found = model_.paths.find(address);
    return quoted(found != model_.paths.end() ? found->second : "/#" + std::to_string(address));
  }

  void type_of(int level, const SharedTypeText& type,
               const std::optional<std::uint64_t>& committed) {
    if (committed) {
      line(level, "DATATYPE  " + committed_name(*committed));
    } else {
      type_line(level, "DATATYPE  ", type ? type->block : "unknown");
    }
  }

  // As h5dump: a compound closes its own block, any other type ends with ';'.
  void named_type_line(int level, const std::string& name, const TypeText& type) {
    std::string block = type.block;
    if (block.rfind("H5T_COMPOUND {", 0) != 0) block += ";";
    type_line(level, "DATATYPE " + quoted(name) + " ", block);
  }

  // h5dump prints a comment inside a group's block but on the line level of a dataset's.
  void comment(std::uint64_t address, int level) {
    auto found = model_.comments.find(address);
    if (found != model_.comments.end()) line(level, "COMMENT " + quoted(found->second));
  }

  static std::string space_text(const Dataspace& space) {
    switch (space.cls) {
      case Dataspace::Class::kScalar:
        return "SCALAR";
      case Dataspace::Class::kNull:
        return "NULL";
      case Dataspace::Class::kUnknown:
        return "unknown dataspace";
      case Dataspace::Class::kSimple:
        break;
    }
    std::string dims;
    std::string max_dims;
    for (std::size_t i = 0; i < space.dims.size(); ++i) {
      if (i != 0) {
        dims += ", ";
        max_dims += ", ";
      }
      dims += std::to_string(space.dims[i]);
      max_dims += space.max_dims[i] == Dataspace::kUnlimited ? "H5S_UNLIMITED"
                                                             : std::to_string(space.max_dims[i]);
    }
    return "SIMPLE { ( " + dims + " ) / ( " + max_dims + " ) }";
  }

  static std::string quoted(const std::string& text) { return "\"" + text + "\""; }

  void notes(const Node& node, int level) {
    for (const auto& note : node.notes) line(level, "/* " + note + " */");
  }

  void attributes(const Node& node, int level) {
    for (const auto& attribute : node.attributes) {
      line(level, "ATTRIBUTE " + quoted(attribute.name) + " {");
      type_of(level + 1, attribute.type, attribute.committed_type);
      line(level + 1, "DATASPACE  " + space_text(attribute.space));
      line(level, "}");
    }
  }

  void group_body(const Node& node, int level) {
    comment(node.address, level);
    attributes(node, level);
    notes(node, level);
    for (const auto& child : node.children) child_block(child, level);
  }

  static const char* object_keyword(Node::Kind kind) {
    switch (kind) {
      case Node::Kind::kDataset:
        return "DATASET";
      case Node::Kind::kDatatype:
        return "DATATYPE";
      default:
        return "GROUP";
    }
  }

  void child_block(const Node& child, int level) {
    std::string name = quoted(child.name);
    switch (child.kind) {
      case Node::Kind::kGroup:
        line(level, "GROUP " + name + " {");
        group_body(child, level + 1);
        line(level, "}");
        break;
      case Node::Kind::kDataset:
        dataset_block(child, level);
        break;
      case Node::Kind::kDatatype:
        // The attributes follow one level deeper without a block of their own; h5dump shows
        // no comment of a named datatype.
        named_type_line(level, child.name, child.datatype ? *child.datatype : TypeText{});
        attributes(child, level + 1);
        break;
      case Node::Kind::kHardLink: {
        auto path = model_.paths.find(child.address);
        std::string target =
            "HARDLINK " + quoted(path != model_.paths.end() ? path->second : std::string("?"));
        if (child.target_kind == Node::Kind::kDatatype) {
          line(level, "DATATYPE " + name + " " + target);
          break;
        }
        line(level, std::string(object_keyword(child.target_kind)) + " " + name + " {");
        // h5dump repeats a group's comment at each of its links, not a dataset's.
        if (child.target_kind == Node::Kind::kGroup) comment(child.address, level + 1);
        line(level + 1, target);
        line(level, "}");
        break;
      }
      case Node::Kind::kSoftLink:
        line(level, "SOFTLINK " + name + " {");
        line(level + 1, "LINKTARGET " + quoted(child.target));
        line(level, "}");
        break;
      case Node::Kind::kExternalLink:
        line(level, "EXTERNAL_LINK " + name + " {");
        line(level + 1, "TARGETFILE " + quoted(child.target_file));
        line(level + 1, "TARGETPATH " + quoted(child.target));
        line(level, "}");
        break;
      case Node::Kind::kUserDefinedLink:
        line(level, "USERDEFINED_LINK " + name + " {");
        line(level + 1, "LINKCLASS " + std::to_string(child.link_class));
        line(level, "}");
        break;
      case Node::Kind::kOtherObject:
      case Node::Kind::kUnreadable:
        line(level, "/* " + name + ": not shown */");
        notes(child, level);
        break;
    }
  }

  void dataset_block(const Node& child, int level) {
    line(level, "DATASET " + quoted(child.name) + " {");
    comment(child.address, level);
    notes(child, level + 1);
    if (child.dataset) {
      const DatasetInfo& info = *child.dataset;
      type_of(level + 1, info.type, info.committed_type);
      line(level + 1, "DATASPACE  " + space_text(info.space));
    }
    attributes(child, level + 1);
    line(level, "}");
  }

  const FileModel& model_;
  std::string out_;
};

}  // namespace

std::string render_header(const FileModel& model, std::string_view file_name) {
  return HeaderPrinter(model).print(file_name);
}

}  // namespace metafs::extract::hdf5
