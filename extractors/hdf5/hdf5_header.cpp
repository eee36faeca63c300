#include "hdf5_header.hpp"

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
  void type_line(int level, const std::string& prefix, const std::string& block) {
    std::string indented;
    std::string indent(static_cast<std::size_t>(level) * 3, ' ');
    for (char c : block) {
      indented += c;
      if (c == '\n') indented += indent;
    }
    line(level, prefix + indented);
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
      type_line(level + 1, "DATATYPE  ", attribute.type ? attribute.type->block : "unknown");
      line(level + 1, "DATASPACE  " + space_text(attribute.space));
      line(level, "}");
    }
  }

  void group_body(const Node& node, int level) {
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
      case Node::Kind::kDatatype: {
        // As h5dump: a compound closes its own block, any other type ends with ';', and the
        // attributes follow one level deeper without a block of their own.
        std::string block = child.datatype ? child.datatype->block : "";
        if (block.rfind("H5T_COMPOUND {", 0) != 0) block += ";";
        type_line(level, "DATATYPE " + name + " ", block);
        attributes(child, level + 1);
        break;
      }
      case Node::Kind::kHardLink: {
        auto path = model_.paths.find(child.address);
        line(level, std::string(object_keyword(child.target_kind)) + " " + name + " {");
        line(level + 1,
             "HARDLINK " + quoted(path != model_.paths.end() ? path->second : std::string("?")));
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
    notes(child, level + 1);
    if (child.dataset) {
      const DatasetInfo& info = *child.dataset;
      auto named =
          info.committed_type ? model_.paths.find(*info.committed_type) : model_.paths.end();
      if (named != model_.paths.end()) {
        line(level + 1, "DATATYPE  " + quoted(named->second));
      } else {
        type_line(level + 1, "DATATYPE  ", info.type ? info.type->block : "unknown");
      }
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
