local kumo = require 'kumo'

kumo.on('main', function()
  local found = kumo.file_type.from_bytes 'KUMO'
  assert(found.name == 'Kumo Archive', found.name)
  assert(found.extensions[1] == 'kar')
  -- the table key is the first 8 bytes: "KUMO!" is not looked up as KUMO
  assert(kumo.file_type.from_bytes('KUMO!').name == 'Text')
  assert(kumo.file_type.from_bytes('').name == 'Binary')

  local archives = kumo.file_type.from_extension 'kar'
  assert(#archives == 3 and archives[2].name == 'Kumo Archive, version 2')
  assert(#kumo.file_type.from_extension 'KAR' == 0)
  local image = kumo.file_type.from_media_type('image/x-kumo')[1]
  assert(image.name == 'Kumo Image' and #image.media_types == 1)
  print('file types answer as the crate does')
end)
