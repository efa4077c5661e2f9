-- kumo.shaping.load with a provider block, without KumoMTA's helpers.
local kumo = require 'kumo'

local load_shaping = kumo.memoize(kumo.shaping.load, { name = 'shaping', ttl = '1 minute', capacity = 2 })

kumo.on('get_egress_path_config', function(domain, source, site_name)
  local shaping = load_shaping { '/opt/kumomta/etc/policy/providers.toml' }
  return kumo.make_egress_path(shaping:get_egress_path_config(domain, source, site_name))
end)
