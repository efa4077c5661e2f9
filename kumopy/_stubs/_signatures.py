"""Parameters and one-line summaries of the functions KumoMTA registers in
the `kumo` module and in the `sqlite`, `redis`, `tsa` and `proxy` modules, at
the KumoMTA commit named in `kumopy._version` (kumopy's own summary of the
API, checked against KumoMTA's source).  `kumopy stubs` turns them into
lua-language-server definitions (kumopy/_stubs.py).

Each entry is `name: (params, summary)`.  `params` lists the parameters in
order: `name` (required), `name?` (optional), `{name}` (a table of named
fields, passed as `f { ... }` in Lua), `...` (any number of values).
"""

from __future__ import annotations

__all__ = ["SIGNATURES"]

SIGNATURES: dict[str, tuple[str, str]] = {
    "aaa.configure_acct_log": ("{params}", "Enables authn/authz accounting logs."),
    "aaa.load_acl_map": (
        "keysource",
        "Parses an ACL map TOML into an object with :get(resource).",
    ),
    "aaa.make_access_control_list": ("rules", "Builds an ACL object from rule tables."),
    "aaa.make_http_url_resource": (
        "local_addr, url",
        "Builds the resource value for an HTTP listener URL.",
    ),
    "aaa.query_resource_access": (
        "resource, auth_info, privilege",
        "Evaluates the ACLs for the given identity and privilege.",
    ),
    "aaa.set_acl_cache_ttl": ("duration", "TTL of the ACL-definition cache."),
    "aaa.set_check_cache_ttl": ("duration", "TTL of the ACL-check cache."),
    "aaa.set_fall_back_to_acl_map": (
        "bool",
        "Whether the built-in ACL map is consulted when get_acl_definition returns nothing.",
    ),
    "amqp.basic_publish": ("{params}", "One-shot AMQP publish (amqprs)."),
    "amqp.build_client": ("uri", "Returns an AMQP client object (lapin)."),
    "api.admin.bounce.bounce": (
        "{params}",
        "Undocumented Lua twin of POST /api/admin/bounce/v1; returns the entry UUID.",
    ),
    "api.admin.bounce.delete": ("uuid", "Removes a bounce entry; returns bool."),
    "api.admin.bounce.list": ("", "Lists active bounce entries."),
    "api.admin.suspend.delete": ("uuid", "Removes a scheduled-queue suspension."),
    "api.admin.suspend.list": ("", "Lists scheduled-queue suspensions."),
    "api.admin.suspend.suspend": ("{params}", "Adds a scheduled-queue suspension; returns UUID."),
    "api.admin.suspend_ready_q.delete": ("uuid", "Removes a ready-queue suspension."),
    "api.admin.suspend_ready_q.list": ("", "Lists ready-queue suspensions."),
    "api.admin.suspend_ready_q.suspend": (
        "{params}",
        "Suspends a ready queue (by site/queue name); returns UUID.",
    ),
    "api.inject.build_v1": (
        "request",
        "Undocumented: builds (but does not queue) the Message(s) an inject_v1 request would "
        "produce.",
    ),
    "api.inject.inject_v1": (
        "request",
        "Runs the HTTP inject v1 API in-process (as the local system identity); returns the "
        "response table.",
    ),
    "apply_supplemental_trace_header": (
        "msg, params?",
        "Adds the X-KumoRef style supplemental trace header to a Message according to "
        "TraceHeaders params (async).",
    ),
    "available_parallelism": (
        "",
        "Returns the CPU-count estimate kumod uses to size thread pools.",
    ),
    "bump_config_epoch": (
        "",
        "Increments the process-wide config epoch; stale pooled Lua states are discarded and "
        "epoch-keyed memoize entries / Epoch-refresh objects re-evaluate.",
    ),
    "cidr.make_map": ("map?", "CIDR -> value map, indexable by IP string (longest prefix)."),
    "compute_egress_path_config_constraints": (
        "path_config, extra?",
        "Computes effective throughput ceilings (concurrency / rates) for an egress-path "
        "config, optionally merged with queue constraints; returns a table.",
    ),
    "compute_queue_config_constraints": (
        "queue_config",
        "Same idea for a scheduled-queue config (only max_message_rate contributes).",
    ),
    "configure_accounting_db_path": (
        "path",
        "Sets the sqlite path of the accounting DB (\":memory:\" allowed); no-op effects in "
        "--validate.",
    ),
    "configure_bounce_classifier": (
        "{params}",
        "Loads bounce-classification rule files (TOML) used to categorise responses; params "
        "deny unknown fields.",
    ),
    "configure_local_logs": (
        "{params}",
        "Enables zstd JSONL log segments in log_dir (max_segment_duration, headers, meta, "
        "per_record ...); params validated but nothing started under --validate.",
    ),
    "configure_log_disposition_hook": (
        "{params}",
        "Undocumented: routes each log record to the event `log_disposition_<name>(msg, "
        "record)` instead of queueing a log message.",
    ),
    "configure_log_hook": (
        "{params}",
        "Enables a log hook: every log record becomes a Message passed to "
        "should_enqueue_log_record(msg, name).",
    ),
    "configure_redis_throttles": (
        "{params}",
        "Switches throttles to a shared Redis backend (pings the server first).",
    ),
    "counter_series.define": (
        "{params}",
        "Returns a named, process-global rolling counter "
        "(increment/delta/observe/sum/sum_over).",
    ),
    "crypto.aes_decrypt_block": ("algorithm, ciphertext, key", "AES block decryption."),
    "crypto.aes_encrypt_block": ("algorithm, plaintext, key", "AES block encryption."),
    "crypto.aws_sign_v4": ("params", "Computes AWS SigV4 headers for an HTTP request."),
    "define_spool": (
        "{params}",
        "Defines a spool store (data / meta); params validated, but no spool is opened under "
        "--validate.",
    ),
    "digest.crc32": (
        "...",
        "CRC32 over all args (strings raw, other values as their JSON text); returns a digest"
        " object (.hex, .base64 ..., .bytes, tostring = hex).",
    ),
    "digest.hmac_sha1": (
        "key, msg",
        "HMAC-SHA1; key is a KeySource (async); returns a digest object.",
    ),
    "digest.hmac_sha224": (
        "key, msg",
        "HMAC-SHA224; key is a KeySource (async); returns a digest object.",
    ),
    "digest.hmac_sha256": (
        "key, msg",
        "HMAC-SHA256; key is a KeySource (async); returns a digest object.",
    ),
    "digest.hmac_sha384": (
        "key, msg",
        "HMAC-SHA384; key is a KeySource (async); returns a digest object.",
    ),
    "digest.hmac_sha512": (
        "key, msg",
        "HMAC-SHA512; key is a KeySource (async); returns a digest object.",
    ),
    "digest.sha1": (
        "...",
        "SHA1 over the concatenation of all args (strings raw, others as JSON text); returns "
        "a digest object (.hex/.base64/.bytes...).",
    ),
    "digest.sha224": (
        "...",
        "SHA224 over the concatenation of all args (strings raw, others as JSON text); "
        "returns a digest object (.hex/.base64/.bytes...).",
    ),
    "digest.sha256": (
        "...",
        "SHA256 over the concatenation of all args (strings raw, others as JSON text); "
        "returns a digest object (.hex/.base64/.bytes...).",
    ),
    "digest.sha384": (
        "...",
        "SHA384 over the concatenation of all args (strings raw, others as JSON text); "
        "returns a digest object (.hex/.base64/.bytes...).",
    ),
    "digest.sha3_256": (
        "...",
        "SHA3_256 over the concatenation of all args (strings raw, others as JSON text); "
        "returns a digest object (.hex/.base64/.bytes...).",
    ),
    "digest.sha3_384": (
        "...",
        "SHA3_384 over the concatenation of all args (strings raw, others as JSON text); "
        "returns a digest object (.hex/.base64/.bytes...).",
    ),
    "digest.sha3_512": (
        "...",
        "SHA3_512 over the concatenation of all args (strings raw, others as JSON text); "
        "returns a digest object (.hex/.base64/.bytes...).",
    ),
    "digest.sha512": (
        "...",
        "SHA512 over the concatenation of all args (strings raw, others as JSON text); "
        "returns a digest object (.hex/.base64/.bytes...).",
    ),
    "digest.sha512_256": (
        "...",
        "SHA512_256 over the concatenation of all args (strings raw, others as JSON text); "
        "returns a digest object (.hex/.base64/.bytes...).",
    ),
    "disconnect": (
        "code, message, when?",
        "Like kumo.reject but defaults to ForceDisconnect; raises a RejectError.",
    ),
    "dkim.ed25519_signer": (
        "{params}",
        "Creates an Ed25519 DKIM signer for msg:dkim_sign (key via KeySource, cached).",
    ),
    "dkim.rsa_sha256_signer": ("{params}", "Creates an RSA-SHA256 DKIM signer."),
    "dkim.set_signing_threads": ("n", "Sizes the dkimsign pool."),
    "dmarc.check_msg": (
        "msg, dkim_results, resolver?, spf_result, use_reporting, reporting_info?",
        "Undocumented here (used by mail_auth.lua): DMARC evaluation returning "
        "{result=AuthenticationResult, ...}.",
    ),
    "dns.configure_resolver": ("{params}", "Replaces the default (hickory) resolver."),
    "dns.configure_test_mta_sts": (
        "{params}",
        "Undocumented test hook: injects MTA-STS policies.",
    ),
    "dns.configure_test_resolver": (
        "zones",
        "Undocumented test hook: replaces DNS with in-memory zone-file data (used heavily by "
        "integration tests).",
    ),
    "dns.configure_unbound_resolver": ("{params}", "Uses libunbound as resolver."),
    "dns.define_resolver": (
        "name, config",
        "Defines an additional named resolver usable via OPT_RESOLVER_NAME args.",
    ),
    "dns.load_resolv_conf": (
        "path?",
        "Parses resolv.conf into a configure_resolver-shaped table.",
    ),
    "dns.lookup_addr": (
        "name, resolver?, strategy?",
        "A/AAAA lookup returning an array of IP strings (async).",
    ),
    "dns.lookup_mx": (
        "domain, resolver?",
        "MX resolution returning a table {domain_name, hosts, site_name, by_pref = {[pref] = "
        "{hosts}}, is_domain_literal, is_secure, is_mx, mta_sts} (async).",
    ),
    "dns.lookup_ptr": ("ip, resolver?", "PTR lookup returning an array of names."),
    "dns.lookup_txt": ("domain, resolver?", "TXT lookup returning an array of strings."),
    "dns.ptr_host": ("ip", "Returns the in-addr.arpa / ip6.arpa name for an IP."),
    "dns.rbl_lookup": ("ip, bl_domain, resolver?", "DNSBL query; returns answer, reason."),
    "dns.reverse_ip": ("ip", "Returns the reversed-octet/nibble form of an IP."),
    "dns.set_mta_sts_enabled": ("bool", "Whether MX resolution consults MTA-STS."),
    "dns.set_mx_concurrency_limit": ("n", "Caps concurrent MX lookups."),
    "dns.set_mx_negative_cache_ttl": ("duration", "Negative-cache TTL for failed MX lookups."),
    "dns.set_mx_timeout": ("duration", "Overall MX resolution time limit."),
    "domain_map.new": (
        "map?",
        "Domain-keyed map with \"*.suffix\" wildcard support; userdata with __index/__newindex,"
        " memoizable.",
    ),
    "enable_memory_callstack_tracking": (
        "bool",
        "Undocumented diagnostic toggle for allocation call-stack tracking.",
    ),
    "encode.base32_decode": ("text", "base32 decoding; trailing padding is tolerated/stripped."),
    "encode.base32_encode": (
        "bytes",
        "base32 encoding of a (binary-safe) string; non-string arg -> error.",
    ),
    "encode.base32_nopad_decode": (
        "text",
        "base32_nopad decoding; trailing padding is tolerated/stripped.",
    ),
    "encode.base32_nopad_encode": (
        "bytes",
        "base32_nopad encoding of a (binary-safe) string; non-string arg -> error.",
    ),
    "encode.base32hex_decode": (
        "text",
        "base32hex decoding; trailing padding is tolerated/stripped.",
    ),
    "encode.base32hex_encode": (
        "bytes",
        "base32hex encoding of a (binary-safe) string; non-string arg -> error.",
    ),
    "encode.base32hex_nopad_decode": (
        "text",
        "base32hex_nopad decoding; trailing padding is tolerated/stripped.",
    ),
    "encode.base32hex_nopad_encode": (
        "bytes",
        "base32hex_nopad encoding of a (binary-safe) string; non-string arg -> error.",
    ),
    "encode.base64_decode": ("text", "base64 decoding; trailing padding is tolerated/stripped."),
    "encode.base64_encode": (
        "bytes",
        "base64 encoding of a (binary-safe) string; non-string arg -> error.",
    ),
    "encode.base64_nopad_decode": (
        "text",
        "base64_nopad decoding; trailing padding is tolerated/stripped.",
    ),
    "encode.base64_nopad_encode": (
        "bytes",
        "base64_nopad encoding of a (binary-safe) string; non-string arg -> error.",
    ),
    "encode.base64url_decode": (
        "text",
        "base64url decoding; trailing padding is tolerated/stripped.",
    ),
    "encode.base64url_encode": (
        "bytes",
        "base64url encoding of a (binary-safe) string; non-string arg -> error.",
    ),
    "encode.base64url_nopad_decode": (
        "text",
        "base64url_nopad decoding; trailing padding is tolerated/stripped.",
    ),
    "encode.base64url_nopad_encode": (
        "bytes",
        "base64url_nopad encoding of a (binary-safe) string; non-string arg -> error.",
    ),
    "encode.charset_decode": ("charset, bytes", "Decodes bytes in a named charset to UTF-8."),
    "encode.charset_encode": (
        "charset, utf8, ignore_errors?",
        "Encodes UTF-8 into a named charset.",
    ),
    "encode.hex_decode": ("text", "hex decoding; trailing padding is tolerated/stripped."),
    "encode.hex_encode": (
        "bytes",
        "hex encoding of a (binary-safe) string; non-string arg -> error.",
    ),
    "eval_config_monitor_globs": (
        "",
        "Expands the config-monitor globs now and returns the sorted, de-duplicated list of "
        "matching files (async).",
    ),
    "file_type.from_bytes": ("bytes", "Sniffs a file type from content."),
    "file_type.from_extension": ("ext", "File types for an extension."),
    "file_type.from_media_type": ("media_type", "File types for a MIME type."),
    "format_egress_path_config_constraints": (
        "constraints",
        "Renders a constraints table as human-readable text.",
    ),
    "format_egress_path_config_toml": (
        "path_config",
        "Renders an egress path config as sorted \"pretty compact\" TOML.",
    ),
    "format_queue_config_toml": (
        "queue_config",
        "Renders a queue config as sorted \"pretty compact\" TOML.",
    ),
    "fs.glob": (
        "pattern, relative_to?, ttl_seconds?",
        "Cached glob (same function as kumo.glob).",
    ),
    "fs.metadata_for_path": ("path", "stat() following symlinks; returns a metadata object."),
    "fs.open": ("path, mode?", "Async file handle (io.open-like)."),
    "fs.read_dir": ("path", "Same as kumo.read_dir."),
    "fs.symlink_metadata_for_path": ("path", "lstat() variant."),
    "fs.uncached_glob": ("pattern, relative_to?", "Same as kumo.uncached_glob."),
    "generate_rfc3464_message": (
        "params, orig_msg?, log_record",
        "Builds an RFC 3464 DSN Message (null sender, to the original sender) from a log "
        "record, or nil if params say no report.",
    ),
    "get_event_registrars": (
        "event_name",
        "Undocumented: returns, per kumo.on registration in this Lua state, the call stack "
        "(\"short_src:line\" strings) that registered it.",
    ),
    "get_memory_hard_limit": ("", "Returns the configured hard memory limit (bytes) or nil."),
    "get_memory_low_thresh": ("", "Returns the low-memory threshold (bytes) or nil."),
    "get_memory_soft_limit": ("", "Returns the soft memory limit (bytes) or nil."),
    "glob": (
        "pattern, relative_to?, ttl_seconds?",
        "Glob expansion returning absolute paths, cached (default 60 s, cache "
        "\"mod_filesystem_glob_cache\"); alias of kumo.fs.glob.",
    ),
    "http.build_client": (
        "{params}",
        "Returns an HTTP client (get/post/put/... -> Request builder -> :send() -> Response).",
    ),
    "http.build_url": ("base, params", "Appends URL-encoded query params to a base URL."),
    "http.connect_websocket": (
        "url",
        "Opens a websocket; returns stream, response (stream:recv(), :recv_batch(dur)).",
    ),
    "inject_message": (
        "msg, deferred_spool?",
        "Saves (unless deferred_spool) and inserts a Message into its scheduled queue.",
    ),
    "invoke_get_egress_path_config": (
        "routing_domain, source, site_name",
        "Calls the get_egress_path_config handler in the current state and returns the result"
        " as a plain table (default config if no handler).",
    ),
    "invoke_get_egress_pool": (
        "pool_name",
        "Resolves a pool via get_egress_pool (through the egress_source_pools cache) and "
        "returns a plain table.",
    ),
    "invoke_get_egress_source": (
        "source_name",
        "Resolves a source via get_egress_source (cached) and returns a plain table.",
    ),
    "invoke_get_queue_config": (
        "queue_name",
        "Parses the queue name, runs the get_queue_config chain (with the built-in special "
        "queues) and returns a plain table.",
    ),
    "json_encode": (
        "value",
        "Serialises a Lua value (tables, userdata with __pairs) to compact JSON; key order "
        "follows Lua iteration.",
    ),
    "json_encode_pretty": ("value", "As json_encode, pretty printed with object keys sorted."),
    "json_load": (
        "path",
        "Reads a file, strips //, /* */ and # comments, parses strict JSON and converts to "
        "Lua (null -> nil). Async.",
    ),
    "json_parse": ("text", "Same as json_load but from a string."),
    "jsonl.new_multi_tailer": ("{params}", "Multi-consumer tailer over kumo JSONL log segments."),
    "jsonl.new_tailer": ("{params}", "Single-consumer tailer yielding record batches."),
    "jsonl.new_writer": ("{params}", "Writer producing zstd JSONL segments."),
    "kafka.build_producer": ("uri", "Kafka producer object."),
    "log_debug": (
        "...",
        "Writes args (space separated, tostring-like) to the diagnostic log at DEBUG, "
        "prefixed with \"file:line: \".",
    ),
    "log_error": ("...", "As log_debug at ERROR level."),
    "log_info": ("...", "As log_debug at INFO level."),
    "log_warn": ("...", "As log_debug at WARN level."),
    "make_egress_path": (
        "{params}",
        "Validates params into an EgressPathConfig userdata (unknown fields rejected, "
        "defaults filled).",
    ),
    "make_egress_pool": ("{params}", "Validates params into an EgressPool userdata."),
    "make_egress_source": ("{params}", "Validates params into an EgressSource userdata."),
    "make_listener_domain": (
        "{params}",
        "Validates params into a listener-domain (EsmtpDomain) userdata.",
    ),
    "make_message": (
        "sender, recipient, body",
        "Creates an un-spooled Message with one recipient and empty metadata.",
    ),
    "make_queue_config": ("{params}", "Validates params into a QueueConfig userdata."),
    "make_throttle": (
        "name, spec",
        "Returns a named GCRA throttle object (methods throttle, sleep_if_throttled, "
        "delay_message_if_throttled, explain); state is process-global or Redis.",
    ),
    "memoize": (
        "func, {params}",
        "Returns a caching wrapper around func; cache is process-global and keyed by the JSON"
        " form of the call arguments.",
    ),
    "mimepart.builder": ("", "MIME message builder (text/html/attachments)."),
    "mimepart.new_binary": ("content_type, bytes, opts?", "Binary MimePart."),
    "mimepart.new_html": ("text", "text/html MimePart."),
    "mimepart.new_multipart": ("content_type, parts, boundary?", "Multipart MimePart."),
    "mimepart.new_text": ("content_type, text", "Text MimePart."),
    "mimepart.new_text_plain": ("text", "text/plain MimePart."),
    "mimepart.parse": ("rfc5322_text", "Parses a message into a MimePart tree."),
    "mpsc.define": (
        "name, limit?",
        "Process-global named MPSC queue (send/try_send/recv/recv_many/close).",
    ),
    "nats.connect": ("config", "NATS JetStream client (publish/close)."),
    "on": (
        "event_name, func",
        "Registers an event handler in the current Lua state (single or chained, see section "
        "1).",
    ),
    "prometheus_metrics": (
        "",
        "Undocumented debug helper: returns all metrics as a Lua table (async).",
    ),
    "proxy.start_http_listener": ("{params}", "HTTP admin/metrics listener for KumoProxy."),
    "proxy.start_proxy_listener": ("{params}", "SOCKS5 proxy listener."),
    "read_dir": (
        "path",
        "Returns absolute paths of the directory entries (async); alias of kumo.fs.read_dir.",
    ),
    "redis.open": ("{params}", "Redis connection handle (query, ...)."),
    "regex.compile": (
        "pattern",
        "fancy-regex (Rust regex + backrefs/lookaround) object: captures, is_match, find, "
        "find_all, replace, replace_all, replacen, split.",
    ),
    "regex.escape": ("text", "Escapes regex metacharacters."),
    "regex_set_map.new": (
        "map?",
        "Compiles {pattern = value} into a RegexSet-backed lookup userdata; map[subject] "
        "returns a value or nil.",
    ),
    "reject": (
        "code, message",
        "Raises a Lua error carrying RejectError{code, message, disconnect=If421}.",
    ),
    "secrets.load": (
        "keysource",
        "Loads bytes from a KeySource (file path, inline {key_data}, vault ...).",
    ),
    "serde.json_encode": ("value", "Same function as kumo.json_encode."),
    "serde.json_encode_pretty": ("value", "Same as kumo.json_encode_pretty."),
    "serde.json_load": ("path", "Same as kumo.json_load (implement once, expose twice)."),
    "serde.json_parse": ("text", "Same as kumo.json_parse."),
    "serde.toml_encode": ("value", "Same as kumo.toml_encode."),
    "serde.toml_encode_pretty": ("value", "Same as kumo.toml_encode_pretty."),
    "serde.toml_encode_pretty_compact": (
        "value",
        "Pretty TOML with sorted keys and empty tables inline.",
    ),
    "serde.toml_load": ("path", "Same as kumo.toml_load."),
    "serde.toml_parse": ("text", "Same as kumo.toml_parse."),
    "serde.yaml_encode": ("value", "Serialises as YAML."),
    "serde.yaml_load": ("path", "Parses a YAML file (via JSON value model)."),
    "serde.yaml_parse": ("text", "Parses YAML text."),
    "set_config_monitor_globs": (
        "globs",
        "Replaces the set of globs whose file contents are hashed every 10 s to drive the "
        "config epoch.",
    ),
    "set_diagnostic_log_filter": (
        "filter",
        "Changes the tracing filter (env-filter syntax) of the diagnostic log.",
    ),
    "set_httpinject_recipient_rate_limit": (
        "spec_or_nil",
        "Sets/clears a throttle on recipients accepted by the HTTP inject API.",
    ),
    "set_httpinject_threads": ("n", "Sizes the httpinject thread pool."),
    "set_logging_threads": ("n", "Sizes the logging thread pool."),
    "set_lruttl_cache_capacity": (
        "name, capacity",
        "Changes capacity of a built-in lruttl cache; errors for unknown names.",
    ),
    "set_lua_gc_on_put": (
        "percent",
        "Undocumented: probability (0-100) of a full Lua GC when a state is returned to the "
        "pool.",
    ),
    "set_max_lua_context_age": ("seconds", "Max age of a pooled Lua state (default 300)."),
    "set_max_lua_context_use_count": (
        "n",
        "Max number of uses of a pooled Lua state (default 1024).",
    ),
    "set_max_spare_lua_contexts": (
        "n",
        "Max number of idle Lua states kept in the pool (default 8192).",
    ),
    "set_memory_hard_limit": ("bytes", "Sets the hard memory limit."),
    "set_memory_low_thresh": ("bytes", "Sets the low-memory threshold."),
    "set_memory_soft_limit": ("bytes", "Sets the soft memory limit."),
    "set_qmaint_threads": ("n", "Sizes the scheduled-queue maintenance pool."),
    "set_ready_qmaint_threads": ("n", "Sizes the ready-queue maintenance pool."),
    "set_readyq_threads": ("n", "Sizes the ready-queue dispatch pool."),
    "set_smtpsrv_threads": ("n", "Sizes the SMTP server pool."),
    "set_spoolin_threads": ("n", "Sizes the spool-enumeration pool."),
    "set_timeq_spawn_reinsertion": ("bool", "Deprecated no-op that only logs a warning."),
    "shaping.load": (
        "paths, options?",
        "Rust-side merge of shaping TOML/JSON files (+ remote TSA URLs, + MX/site "
        "resolution); returns a Shaping userdata (get_egress_path_config, get_errors, "
        "get_warnings, get_referenced_sources, match_rules, hash).",
    ),
    "sleep": ("seconds", "Async sleep; integer or fractional seconds (alias of kumo.time.sleep)."),
    "spawn_task": (
        "{params}",
        "Starts a thread that obtains a Lua state and calls event_name(args) (one table "
        "argument); skipped under --validate.",
    ),
    "spawn_thread_pool": (
        "{params}",
        "Undocumented: pre-creates a named runtime (e.g. for readyq_pool_name); skipped under"
        " --validate.",
    ),
    "spf.check_host": (
        "domain, conn_meta, sender?, resolver?",
        "SPF evaluation for a HELO/MAIL domain and peer address.",
    ),
    "spf.check_msg": (
        "msg, resolver?",
        "SPF evaluation using message meta; returns {disposition, "
        "result=AuthenticationResult}.",
    ),
    "sqlite.open": ("path, busy_timeout?", "SQLite handle with :execute(sql, ...)."),
    "start_esmtp_listener": (
        "{params}",
        "Starts an SMTP listener; params fully validated, listener not started under "
        "--validate.",
    ),
    "start_http_listener": (
        "{params}",
        "Starts the HTTP API listener; params validated, listener not started under "
        "--validate.",
    ),
    "start_proxy_listener": (
        "{params}",
        "proxy-server binary only: legacy alias of proxy.start_proxy_listener.",
    ),
    "string.ends_with": ("s, suffix", "Byte-wise suffix test."),
    "string.eval_template": (
        "name, source, context, dialect?",
        "Renders a minijinja (or handlebars) template.",
    ),
    "string.normalize_smtp_response": (
        "text",
        "Replaces per-message tokens (ids, addresses, ...) in a response with placeholders.",
    ),
    "string.psl_domain": ("domain", "Registrable domain per the Public Suffix List (or nil)."),
    "string.psl_suffix": ("domain", "Public suffix (or nil)."),
    "string.replace": ("s, from, to", "Literal replace-all."),
    "string.replacen": ("s, from, to, n", "Literal replace of the first n matches."),
    "string.rsplit": ("s, sep", "Literal split from the right, returns array."),
    "string.rsplitn": ("s, limit, sep", "At most limit pieces, from the right."),
    "string.split": (
        "s, sep",
        "Literal split, returns array (Rust str::split semantics, empty pieces kept).",
    ),
    "string.split_ascii_whitespace": ("s", "Split on ASCII whitespace runs."),
    "string.split_whitespace": ("s", "Split on Unicode whitespace runs."),
    "string.splitn": ("s, limit, sep", "At most limit pieces."),
    "string.starts_with": ("s, prefix", "Byte-wise prefix test."),
    "string.trim": ("s", "Trim Unicode whitespace both ends."),
    "string.trim_end": ("s", "Trim trailing whitespace."),
    "string.trim_start": ("s", "Trim leading whitespace."),
    "string.wrap": ("text, soft?, hard?", "Header-style line wrapping."),
    "suspend_delivery_when_spool_unhealthy": (
        "bool",
        "Whether delivery pauses while the spool is load-shedding (default true).",
    ),
    "time.from_unix_timestamp": ("ts", "Time object from a unix timestamp."),
    "time.now": ("", "Current UTC Time object."),
    "time.parse_duration": ("duration", "TimeDelta from seconds or a humantime string."),
    "time.parse_rfc2822": ("text", "Time from an RFC 2822 date."),
    "time.parse_rfc3339": ("text", "Time from an RFC 3339 date."),
    "time.sleep": ("seconds", "Async sleep (same function as kumo.sleep)."),
    "time.start_timer": (
        "label",
        "Latency timer feeding the user_lua_latency histogram (done() / to-be-closed).",
    ),
    "time.with_ymd_hms": ("y, mo, d, h, mi, s", "UTC Time from components."),
    "toml_encode": ("value", "Serialises a Lua value as TOML."),
    "toml_encode_pretty": ("value", "Serialises a Lua value as pretty TOML."),
    "toml_load": ("path", "Reads and parses a TOML file into Lua tables (async)."),
    "toml_parse": ("text", "Parses a TOML string into Lua tables."),
    "traceback": (
        "level",
        "Undocumented: returns an array of frame tables {event,name,name_what,source,short_sr"
        "c,line_defined,last_line_defined,what,curr_line,is_tail_call} starting at level "
        "(replacement for the absent debug library).",
    ),
    "tsa.configure_tsa_db_path": ("path", "Sets the TSA sqlite DB path."),
    "tsa.start_http_listener": ("{params}", "Starts the TSA HTTP service."),
    "uncached_glob": ("pattern, relative_to?", "Uncached glob expansion (async)."),
    "uuid.new_v1": ("", "Time+node UUID object."),
    "uuid.new_v4": ("", "Random UUID object."),
    "uuid.new_v6": ("", "Reordered-time UUID object."),
    "uuid.new_v7": ("", "Unix-time-ordered UUID object."),
    "uuid.parse": ("text", "Parses a UUID string."),
    "validation_failed": (
        "",
        "Undocumented: sets the process flag that makes `kumod --validate` exit non-zero "
        "after validate_config.",
    ),
    "xfer.cancel_xfer": ("msg, reason?", "Undoes xfer routing on a message."),
    "xfer.get_xfer_target": ("msg", "Returns the xfer target URL or nil."),
    "xfer.xfer": ("msg, target_url, reason?", "Re-routes a message to another kumod node."),
    "xfer.xfer_in_requeue": (
        "msg, target_url, insert_context, increment_attempts, delay, reason?",
        "xfer variant meant for requeue_message handlers.",
    ),
}
