# tests/lib/manifest-facts.py: Kubernetes manifests as lines of facts, for
# tests/test-deploy.sh to assert on with grep.
#
#   manifest-facts.py facts FILE...
#       one line per scalar: KIND/NAME PATH=VALUE, for example
#       StatefulSet/parley spec.template.spec.containers[parleyd].ports[http].containerPort=8080
#       List items that have a "name" are indexed by it, others by position.
#       Booleans print as true/false, null as null.
#   manifest-facts.py data FILE KIND NAME KEY
#       the value of data.KEY (or stringData.KEY) of that object, as is.
#
# A file that is not YAML is reported as FILE:LINE:COLUMN: problem, exit 1.
# Needs Debian's python3-yaml; exits 77 without it.
import sys

try:
    import yaml
except ImportError:
    sys.stderr.write("python3-yaml is not installed (apt-get install python3-yaml)\n")
    sys.exit(77)


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            return [d for d in yaml.safe_load_all(f) if d is not None]
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
        sys.stderr.write(f"{where}: {getattr(e, 'problem', None) or e}\n")
        sys.exit(1)
    except OSError as e:
        sys.stderr.write(f"{path}: {e.strerror}\n")
        sys.exit(1)


def scalar(v):
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return "null"
    return str(v).replace("\n", "\\n")


def walk(prefix, v, out):
    if isinstance(v, dict):
        if not v:
            out.append((prefix, "{}"))
        for k, sub in v.items():
            walk(f"{prefix}.{k}" if prefix else str(k), sub, out)
    elif isinstance(v, list):
        if not v:
            out.append((prefix, "[]"))
        for i, sub in enumerate(v):
            key = sub.get("name") if isinstance(sub, dict) else None
            walk(f"{prefix}[{key if key is not None else i}]", sub, out)
    else:
        out.append((prefix, scalar(v)))


def ident(path, doc):
    if not isinstance(doc, dict):
        sys.stderr.write(f"{path}: a document is not a mapping\n")
        sys.exit(1)
    name = (doc.get("metadata") or {}).get("name", "-")
    return f"{doc.get('kind', '-')}/{name}"


def main(argv):
    if len(argv) >= 3 and argv[1] == "facts":
        for path in argv[2:]:
            for doc in load(path):
                facts = []
                walk("", doc, facts)
                who = ident(path, doc)
                for p, v in facts:
                    print(f"{who} {p}={v}")
        return 0
    if len(argv) == 6 and argv[1] == "data":
        _, _, path, kind, name, key = argv
        for doc in load(path):
            if ident(path, doc) == f"{kind}/{name}":
                for section in ("data", "stringData"):
                    if key in (doc.get(section) or {}):
                        sys.stdout.write(doc[section][key])
                        return 0
        sys.stderr.write(f"{path}: no {kind}/{name} with data key {key}\n")
        return 1
    sys.stderr.write("usage: manifest-facts.py facts FILE... | data FILE KIND NAME KEY\n")
    return 2


sys.exit(main(sys.argv))
