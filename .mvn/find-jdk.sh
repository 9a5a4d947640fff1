# Sourced by ./mvnw and ./jllm: points JAVA_HOME at a JDK >= 25, or explains what is missing.
# Order: $JAVA_HOME if it is >= 25, then the newest /usr/lib/jvm/* that is >= 25.
jllm_java_major() {
  # prints the major version of the java binary given as $1: from the JDK's own release file
  # (JAVA_VERSION="25.0.3"), read by bash itself, else by asking it (empty when it does not run).
  # Asking starts a JVM: 0.2 s, a third of what `jllm --help` took; each other process started
  # here costs a few ms of every command's start.
  local line
  if [ -r "${1%/bin/java}/release" ]; then
    while IFS= read -r line; do
      if [[ "$line" =~ ^JAVA_VERSION=\"([0-9]+) ]]; then echo "${BASH_REMATCH[1]}"; return; fi
    done <"${1%/bin/java}/release"
  fi
  "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = //p' | head -n1 | cut -d. -f1
}
jllm_find_jdk() {
  local cand major
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ] && [ -x "$JAVA_HOME/bin/javac" ]; then
    major=$(jllm_java_major "$JAVA_HOME/bin/java")
    if [ -n "$major" ] && [ "$major" -ge 25 ]; then return 0; fi
  fi
  for cand in $(ls -d /usr/lib/jvm/*/ 2>/dev/null | sort -rV); do
    cand=${cand%/}
    [ -x "$cand/bin/java" ] && [ -x "$cand/bin/javac" ] || continue
    major=$(jllm_java_major "$cand/bin/java")
    if [ -n "$major" ] && [ "$major" -ge 25 ]; then
      export JAVA_HOME="$cand"
      return 0
    fi
  done
  cat >&2 <<'MSG'
jllm needs a JDK 25 or newer (it uses the Vector API and the FFM API), and none was found.
Looked at $JAVA_HOME and every JDK under /usr/lib/jvm/.
Install one (for example Eclipse Temurin 25) and either put it under /usr/lib/jvm/ or set
JAVA_HOME to its directory, then run this command again.
MSG
  return 1
}
