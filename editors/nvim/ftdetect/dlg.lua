-- .dlg files are filetype `dlg` (Neovim 0.8+; ftdetect/dlg.vim covers 0.7).
if vim.fn.has("nvim-0.8") == 1 then
  vim.filetype.add({ extension = { dlg = "dlg" } })
end
