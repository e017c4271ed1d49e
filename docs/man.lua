-- pandoc Lua filter: a page of docs/ as a man page (docs/meson.build).
-- Metadata in: title (stsctl-apply), section (1), docdir (where docs/ and
-- examples/ are installed), whatis (the NAME line of a page without a
-- "## NAME" section and with more than one paragraph before its first
-- section).
--  - "# stsctl apply" goes (it is the title); "##" becomes .SH (upper
--    case), "###" .SS;
--  - a page without a NAME section gets one: "TITLE - " and its one
--    introductory paragraph, or metadata whatis and the introduction under
--    DESCRIPTION;
--  - links to pages with a man page become references (stsctl-lint(1),
--    stsctl-inventory(5), stsctl-plugin(7)); other links into docs/ and
--    examples/ name the installed file; other relative links keep only
--    their text; "docs/FILE.md" in prose is treated as a link to it;
--  - tables fit 80 columns where pandoc sets their widths.

local stringify = pandoc.utils.stringify
local meta_docdir = ""
local meta = {}

-- docs/FILE.md with a man page: FILE -> {name, section}
local pages = {
  ["stsctl.md"] = { "stsctl", "1" },
  ["inventory.md"] = { "stsctl-inventory", "5" },
  ["plugin-abi.md"] = { "stsctl-plugin", "7" },
}

local function man_page(file)
  if pages[file] then
    return pages[file]
  end
  local cmd = file:match("^(stsctl%-[%w%-]+)%.md$")
  if cmd then
    return { cmd, "1" }
  end
end

local function ref(name, section)
  return { pandoc.Strong({ pandoc.Str(name) }), pandoc.Str("(" .. section .. ")") }
end

local function Link(el)
  local target = el.target
  if target:match("^%a[%w+.-]*:") then
    return nil -- https:, mailto:: pandoc's own rendering
  end
  local path = target:gsub("#.*$", "")
  if path == "" then
    return el.content -- an anchor in this page
  end
  local file = path:match("^([%w%-%.]+%.md)$") -- a page in docs/
  if file then
    local page = man_page(file)
    if page then
      if page[1] == meta.title then
        return el.content
      end
      return ref(page[1], page[2])
    end
    path = meta_docdir .. "/" .. file
  else
    local ex = path:match("^%.%./examples/(.*)$")
    if not ex then
      return el.content -- elsewhere in the source tree: not installed
    end
    path = meta_docdir .. "/examples/" .. ex
  end
  local text = stringify(el.content)
  if text == file or text == target or text:match("^%.?%.?/?examples/") then
    return { pandoc.Code(path) }
  end
  local out = el.content
  out:insert(pandoc.Str(" ("))
  out:insert(pandoc.Code(path))
  out:insert(pandoc.Str(")"))
  return out
end

-- "docs/stsctl-check.md" in prose (not in code): a reference too, or the
-- installed file
local function Str(el)
  local pre, file, post = el.text:match("^(.-)docs/([%w%-]+%.md)(.*)$")
  if not file then
    return nil
  end
  local page = man_page(file)
  if not page then
    return pandoc.Str(pre .. meta_docdir .. "/" .. file .. post)
  end
  if page[1] == meta.title then
    return nil
  end
  return { pandoc.Str(pre), pandoc.Strong({ pandoc.Str(page[1]) }), pandoc.Str("(" .. page[2] .. ")" .. post) }
end

-- A pipe table with a long row gets relative column widths from its "|---|"
-- line, which pandoc's man writer turns into widths that fill 70 ens: with
-- the body's indent of 7 ens and tbl's 3 ens between columns, wider than an
-- 80-column terminal, and a column can be narrower than a word in it. Size
-- the columns from their text instead, in what is left of 72 ens: each at
-- least as wide as its longest word, the rest shared by how much longer
-- each column's longest cell is.
local function text_len(s)
  return utf8.len(s) or #s
end

local function Table(tbl)
  local n = #tbl.colspecs
  for _, spec in ipairs(tbl.colspecs) do
    if type(spec[2]) ~= "number" then
      return nil -- natural widths: tbl sizes the columns
    end
  end
  local word, cell = {}, {}
  for i = 1, n do
    word[i], cell[i] = 1, 1
  end
  local function measure(rows)
    for _, row in ipairs(rows) do
      for i, c in ipairs(row.cells) do
        if i <= n then
          local text = pandoc.utils.stringify(c.contents)
          cell[i] = math.max(cell[i], text_len(text))
          for w in text:gmatch("[^%s%-]+%-?") do -- troff breaks after a hyphen too
            word[i] = math.max(word[i], text_len(w))
          end
        end
      end
    end
  end
  measure(tbl.head.rows)
  for _, body in ipairs(tbl.bodies) do
    measure(body.body)
  end
  local room = 72 - 7 - 3 * (n - 1)
  local width, used, want = {}, 0, 0
  for i = 1, n do
    width[i] = word[i]
    used = used + word[i]
    want = want + (cell[i] - word[i])
  end
  if used < room and want > 0 then
    local extra = room - used
    for i = 1, n do
      width[i] = width[i] + math.min(cell[i] - word[i], extra * (cell[i] - word[i]) / want)
    end
  elseif used > room then -- words too long for any layout: tbl will say so
    for i = 1, n do
      width[i] = width[i] * room / used
    end
  end
  for i, spec in ipairs(tbl.colspecs) do
    tbl.colspecs[i] = { spec[1], math.floor(width[i] * 10) / 10 / 70 }
  end
  return tbl
end

local function upper(inlines)
  return pandoc.walk_inline(pandoc.Span(inlines), {
    Str = function(s)
      return pandoc.Str(pandoc.text.upper(s.text))
    end,
    Code = function(c)
      return pandoc.Str(pandoc.text.upper(c.text))
    end,
  }).content
end

local function lower_first(s)
  return s:gsub("^%u", string.lower, 1)
end

function Pandoc(doc)
  meta = {
    title = stringify(doc.meta.title or ""),
    whatis = stringify(doc.meta.whatis or ""),
  }
  meta_docdir = stringify(doc.meta.docdir or "")
  doc = doc:walk({ Link = Link })
  doc = doc:walk({ Str = Str, Table = Table })

  local intro, rest, has_name, seen_h2 = pandoc.List(), pandoc.List(), false, false
  for _, b in ipairs(doc.blocks) do
    if b.t == "Header" and b.level == 1 then
      -- the title: dropped
    elseif b.t == "Header" then
      if b.level == 2 then
        seen_h2 = true
        if stringify(b.content):upper() == "NAME" then
          has_name = true
        end
        b.content = upper(b.content)
      end
      b.level = b.level - 1
      rest:insert(b)
    elseif seen_h2 then
      rest:insert(b)
    else
      intro:insert(b)
    end
  end

  local blocks = pandoc.List()
  if has_name then
    blocks:extend(intro)
  else
    local whatis = meta.whatis
    if whatis == "" and #intro == 1 and intro[1].t == "Para" then
      whatis = lower_first(stringify(intro[1].content)):gsub("%.$", "")
      intro = pandoc.List()
    end
    if whatis == "" then
      error(meta.title .. ": no NAME section, no single introductory paragraph and no whatis")
    end
    blocks:insert(pandoc.Header(1, { pandoc.Str("NAME") }))
    blocks:insert(pandoc.Para({ pandoc.Str(meta.title .. " - " .. whatis) }))
    if #intro > 0 then
      blocks:insert(pandoc.Header(1, { pandoc.Str("DESCRIPTION") }))
      blocks:extend(intro)
    end
  end
  blocks:extend(rest)
  doc.blocks = blocks
  return doc
end
