-- A complete sending configuration built on KumoMTA's policy-extras
-- helpers (sources, queues, shaping, listener domains, DKIM, a webhook log
-- hook).  The helper modules ship with KumoMTA, not with kumopy: run it
-- on a machine with KumoMTA installed (/opt/kumomta/share), or point
-- `--share` at a KumoMTA checkout's `assets` (it then also stands in for
-- /opt/kumomta/share), and map the data files, e.g.
--
--   kumopy validate --share ~/kumomta/assets \
--     --map /opt/kumomta/etc/policy=policies/full-example/data \
--     policies/full-example/init.lua
local kumo = require 'kumo'
local shaping = require 'policy-extras.shaping'
local queues = require 'policy-extras.queue'
local listener_domains = require 'policy-extras.listener_domains'
local sources = require 'policy-extras.sources'
local dkim_sign = require 'policy-extras.dkim_sign'
local log_hooks = require 'policy-extras.log_hooks'

local DATA = '/opt/kumomta/etc/policy/'

sources:setup { DATA .. 'sources.toml' }
local sign = dkim_sign:setup { DATA .. 'dkim.toml' }
local shaper = shaping:setup_with_automation {
  extra_files = { DATA .. 'shaping.toml' },
}

log_hooks:new_json {
  name = 'events',
  url = 'http://10.1.2.3:8080/kumo-events',
  log_parameters = { headers = { 'Subject', 'X-Tenant' } },
}

local queue_helper = queues:setup { DATA .. 'queues.toml' }

kumo.on('init', function()
  kumo.define_spool { name = 'data', path = '/var/spool/kumomta/data', kind = 'RocksDB' }
  kumo.define_spool { name = 'meta', path = '/var/spool/kumomta/meta', kind = 'RocksDB' }
  kumo.configure_local_logs { log_dir = '/var/log/kumomta', max_segment_duration = '1 minute' }
  kumo.configure_bounce_classifier {
    files = { '/opt/kumomta/share/bounce_classifier/iana.toml' },
  }
  kumo.start_http_listener { listen = '0.0.0.0:8000', trusted_hosts = { '127.0.0.1', '::1' } }
  kumo.start_esmtp_listener {
    listen = '0.0.0.0:25',
    hostname = 'mta.example.net',
    relay_hosts = { '127.0.0.1', '10.20.0.0/16' },
  }
end)

kumo.on('get_listener_domain', listener_domains:setup { DATA .. 'listener_domains.toml' })
kumo.on('get_egress_path_config', shaper.get_egress_path_config)

kumo.on('smtp_server_message_received', function(msg)
  queue_helper:apply(msg)
  sign(msg)
end)

kumo.on('http_message_generated', function(msg)
  queue_helper:apply(msg)
  sign(msg)
end)
