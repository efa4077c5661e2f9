-- A minimal kumod configuration: one SMTP listener, the HTTP API on
-- loopback, two spools and local logs.  `kumopy validate` checks every
-- parameter as kumod does and lists what would be started.
local kumo = require 'kumo'

kumo.on('init', function()
  kumo.start_esmtp_listener { listen = '0.0.0.0:25', hostname = 'mx.example.net' }
  kumo.start_http_listener { listen = '127.0.0.1:8000' }
  kumo.define_spool { name = 'data', path = '/var/spool/kumomta/data' }
  kumo.define_spool { name = 'meta', path = '/var/spool/kumomta/meta' }
  kumo.configure_local_logs { log_dir = '/var/log/kumomta', max_segment_duration = '30s' }
end)
