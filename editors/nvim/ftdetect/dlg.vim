" .dlg files are filetype `dlg` on Neovim 0.7 (0.8+ uses ftdetect/dlg.lua).
if !has('nvim-0.8')
  au BufRead,BufNewFile *.dlg set filetype=dlg
endif
