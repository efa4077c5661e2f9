-- A production-style policy: absolute /opt/kumomta paths, a DNS lookup
-- during init, an SQLite suppression list.  docs/real-world.md runs it.
local kumo = require 'kumo'
local sqlite = require 'sqlite'

local TENANTS = kumo.serde.json_load '/opt/kumomta/etc/policy/tenants.json'

kumo.on('init', function()
  kumo.start_esmtp_listener { listen = '0.0.0.0:25', relay_hosts = { '127.0.0.1' } }
  kumo.define_spool { name = 'data', path = '/var/spool/kumomta/data' }
  -- bounces go to our own MX: refuse to start when it does not resolve
  local mx = kumo.dns.lookup_mx(TENANTS.bounce_domain)
  kumo.log_info('bounce domain MX site', mx.site_name)
end)

kumo.on('get_egress_path_config', function(domain, source, site_name)
  return kumo.make_egress_path {
    connection_limit = TENANTS.connection_limits[domain] or TENANTS.default_connection_limit,
  }
end)

-- `kumod --script` style maintenance: is an address suppressed?
kumo.on('main', function(address)
  local db = sqlite.open '/var/spool/kumomta/suppressed.db'
  db:execute 'CREATE TABLE IF NOT EXISTS suppressed (address TEXT PRIMARY KEY)'
  local hits = db:execute('SELECT address FROM suppressed WHERE address = ?', address)
  print(address, #hits > 0 and 'suppressed' or 'deliverable')
end)
