-- Lua-side tests of the example policy policies/dsn-rewrite, collected by
-- kumopy's pytest plugin: every global function named test_* is a test.
local t = require 'kumopy.testing'

-- The policy reads its rules from the path production uses; point that
-- directory at the copy in this repository, then load the policy the way
-- kumod does.
t.map('/opt/kumomta/etc/policy', '../policies/dsn-rewrite')
t.load_policy('../policies/dsn-rewrite/init.lua')

function test_quota_deferral_bounces()
  local code, line = t.rewrite('452 4.2.2 Mailbox full')
  t.eq(code, 552)
  t.eq(line, '552 4.2.2 Mailbox full (kumomta: status was rewritten from 452 -> 552)')
end

function test_rate_limit_is_retried()
  local code = t.rewrite('451 4.2.1 The user you are trying to contact is receiving mail too quickly')
  t.eq(code, 451)
end

-- Every sample response of the policy's directory: a rule may turn a 4xx
-- into a 5xx, but never touches a 5xx and never produces anything else.
function test_sample_responses_keep_or_harden_their_class()
  local count = 0
  for response in io.lines('/opt/kumomta/etc/policy/responses.txt') do
    local before = tonumber(response:sub(1, 3))
    local after = t.rewrite(response)
    if before >= 500 then
      assert(after == before, response .. ' was rewritten to ' .. after)
    else
      assert(after == before or (after >= 500 and after < 600), response .. ' -> ' .. after)
    end
    count = count + 1
  end
  assert(count > 10, 'read only ' .. count .. ' sample responses')
end

function test_rules_are_reloaded_after_five_minutes()
  t.eq(t.rewrite('452 4.2.2 Mailbox full'), 552)
  t.advance('5 minutes')
  t.eq(t.rewrite('452 4.2.2 Mailbox full'), 552)
end
